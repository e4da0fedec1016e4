/** The schedule arithmetic and Retry-After parsing. */
import { describe, expect, test } from 'bun:test'
import { MAX_RETRY_AFTER_SECONDS, nextAttemptMs, parseRetryAfter } from '../../src/webhooks/backoff'

const schedule = [30, 120, 600, 3600, 21600]
const now = Date.UTC(2026, 10, 25, 12)

describe('nextAttemptMs', () => {
  test('follows the list, then gives up', () => {
    expect([1, 2, 3, 4, 5].map((n) => (nextAttemptMs(n, schedule, now) as number) - now)).toEqual([30_000, 120_000, 600_000, 3_600_000, 21_600_000])
    expect(nextAttemptMs(6, schedule, now)).toBeNull()
    expect(nextAttemptMs(1, [], now)).toBeNull()
  })

  test('Retry-After pushes later, never earlier', () => {
    expect(nextAttemptMs(1, schedule, now, 300)).toBe(now + 300_000)
    expect(nextAttemptMs(1, schedule, now, 5)).toBe(now + 30_000)
    expect(nextAttemptMs(6, schedule, now, 5)).toBeNull()
  })
})

describe('parseRetryAfter', () => {
  test('delta-seconds and HTTP-dates; nonsense is ignored; huge values are capped', () => {
    expect(parseRetryAfter('120', now)).toBe(120)
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90)
    expect(parseRetryAfter(new Date(now - 90_000).toUTCString(), now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeNull()
    expect(parseRetryAfter(null, now)).toBeNull()
    expect(parseRetryAfter('99999999', now)).toBe(MAX_RETRY_AFTER_SECONDS)
  })
})
