/**
 * TokenBuckets.refund: a take that turned out not to count is given back, never past the capacity.
 * What the buckets hand to the checkpoint: only draining buckets get a row; a bucket that filled
 * up again has its row deleted and is forgotten; a peek at an unknown key keeps nothing.
 */
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

  test('answers the bucket after the refund, as the headers of a 304 show it', () => {
    const buckets = new TokenBuckets(new ManualClock())
    buckets.take('k', 3)
    const taken = buckets.take('k', 3)
    expect(taken.remaining).toBe(1)
    expect(buckets.refund('k', 3)).toEqual({ ...taken, remaining: 2, resetSeconds: 20 })
    expect(buckets.refund('k', 3)).toMatchObject({ allowed: true, remaining: 3, resetSeconds: 0 })
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

const keysOf = (rows: { key: string; full: boolean }[], full: boolean) =>
  rows
    .filter((r) => r.full === full)
    .map((r) => r.key)
    .sort()

describe('TokenBuckets checkpoints', () => {
  test('peeking at keys nobody used keeps nothing and writes nothing', () => {
    const b = new TokenBuckets(new ManualClock())
    for (let i = 0; i < 1000; i++) expect(b.peek(`authfail:10.0.${i >> 8}.${i & 255}`, 30).allowed).toBe(true)
    expect(b.size).toBe(0)
    expect(b.takeDirty()).toEqual([])
  })

  test('a draining bucket is written with its level; once it has filled up its row is deleted, then it is forgotten', () => {
    const clock = new ManualClock()
    const b = new TokenBuckets(clock)
    b.take('token:1', 60)
    b.take('token:1', 60)
    expect(b.takeDirty()).toEqual([{ key: 'token:1', tokens: 58, updated_ms: clock.now(), full: false }])
    expect(b.takeDirty()).toEqual([]) // written once
    clock.advance(1_000) // 1 of the 2 refilled: still draining, nothing new to write
    expect(b.takeDirty()).toEqual([])
    clock.advance(1_000) // full again: the row goes
    expect(keysOf(b.takeDirty(), true)).toEqual(['token:1'])
    b.sweep()
    expect(b.size).toBe(0)
    expect(b.takeDirty()).toEqual([])
  })

  test('a bucket refilled before any checkpoint never gets a row', () => {
    const clock = new ManualClock()
    const b = new TokenBuckets(clock)
    for (let i = 0; i < 5000; i++) b.take(`widget:ip:10.1.${i >> 8}.${i & 255}`, 300)
    clock.advance(60_000)
    expect(b.takeDirty()).toEqual([])
    expect(b.size).toBe(0)
  })

  test('a failed save is handed back: the next checkpoint writes the levels and deletes the rows again', () => {
    const clock = new ManualClock()
    const b = new TokenBuckets(clock)
    b.take('a', 10)
    b.take('b', 10)
    expect(keysOf(b.takeDirty(), false)).toEqual(['a', 'b'])
    clock.advance(6_000) // both full again
    const first = b.takeDirty()
    expect(keysOf(first, true)).toEqual(['a', 'b'])
    b.returnDirty(first) // the database was locked or the disk full
    expect(keysOf(b.takeDirty(), true)).toEqual(['a', 'b'])
    b.sweep()
    expect(b.size).toBe(0)
  })

  test('restored checkpoints keep limiting exactly; their rows go a window later if unused', () => {
    const clock = new ManualClock()
    const b = new TokenBuckets(clock)
    b.restore([
      { key: 'token:7', tokens: 0, updated_ms: clock.now() },
      { key: 'token:8', tokens: 0, updated_ms: clock.now() },
    ])
    expect(b.take('token:7', 60).allowed).toBe(false)
    clock.advance(1_000)
    expect(b.take('token:7', 60).allowed).toBe(true) // one refilled in a second at 60/min
    expect(keysOf(b.takeDirty(), false)).toEqual(['token:7'])
    clock.advance(60_000)
    expect(keysOf(b.takeDirty(), true)).toEqual(['token:7', 'token:8'])
    b.sweep()
    expect(b.size).toBe(0)
  })
})
