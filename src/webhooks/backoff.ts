/**
 * The retry schedule: attempt 1 at once, then one retry after each entry of the backoff list
 * (seconds), then dead. A receiver's Retry-After (on 429/503) can push a retry later, never earlier.
 */

/** Longest Retry-After honoured, so a hostile header cannot park a delivery forever. */
export const MAX_RETRY_AFTER_SECONDS = 24 * 3600

/**
 * Seconds from a Retry-After header (delta-seconds or HTTP-date, RFC 9110 §10.2.3), or null
 * when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null
  const v = value.trim()
  if (/^\d+$/.test(v)) return Math.min(Number(v), MAX_RETRY_AFTER_SECONDS)
  const date = Date.parse(v)
  if (Number.isNaN(date)) return null
  return Math.min(Math.max(0, Math.ceil((date - nowMs) / 1000)), MAX_RETRY_AFTER_SECONDS)
}

/**
 * When to try again after attempt `attemptNumber` (1-based) failed, or null when the schedule is
 * used up and the delivery is dead.
 */
export function nextAttemptMs(attemptNumber: number, backoffSeconds: readonly number[], nowMs: number, retryAfterSeconds: number | null = null): number | null {
  if (attemptNumber > backoffSeconds.length) return null
  const scheduled = (backoffSeconds[attemptNumber - 1] ?? 0) * 1000
  const asked = retryAfterSeconds === null ? 0 : retryAfterSeconds * 1000
  return nowMs + Math.round(Math.max(scheduled, asked))
}
