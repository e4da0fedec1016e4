/** TokenBuckets.refund: a take that turned out not to count is given back, never past the capacity. */
import { describe, expect, test } from 'bun:test'
import { ManualClock } from '../../src/clock'
import { TokenBuckets } from '../../src/ratelimit/token-bucket'

describe('refund', () => {
  test('gives back one taken request, so a refunded take leaves the bucket as it was', () => {
    const buckets = new TokenBuckets(new ManualClock())
    for (let i = 0; i < 3; i++) buckets.take('k', 3)
    expect(buckets.take('k', 3).allowed).toBe(false)
    buckets.refund('k', 3)
    const again = buckets.take('k', 3)
    expect(again.allowed).toBe(true)
    expect(again.remaining).toBe(0)
  })

  test('never fills a bucket past its capacity', () => {
    const buckets = new TokenBuckets(new ManualClock())
    buckets.take('k', 2)
    for (let i = 0; i < 5; i++) buckets.refund('k', 2)
    expect(buckets.peek('k', 2).remaining).toBe(2)
    expect(buckets.take('k', 2).allowed).toBe(true)
    expect(buckets.take('k', 2).allowed).toBe(true)
    expect(buckets.take('k', 2).allowed).toBe(false)
  })

  test('a refund is checkpointed like a take', () => {
    const buckets = new TokenBuckets(new ManualClock())
    buckets.take('k', 2)
    buckets.takeDirty()
    buckets.refund('k', 2)
    expect(buckets.takeDirty()).toEqual([expect.objectContaining({ key: 'k', tokens: 2 })])
  })
})
