/**
 * Monthly billing cycles anchored on the site's creation instant, as Stripe anchors
 * subscriptions: a site created on the 31st at 10:00 UTC renews on the 31st at 10:00, or on the
 * last day of shorter months (Feb 28/29, Apr 30), and returns to the 31st when the month has one.
 */

/** The anchor moved `months` calendar months on, the day clamped to the target month's length. */
export function addMonthsClamped(anchorMs: number, months: number): number {
  const a = new Date(anchorMs)
  const y = a.getUTCFullYear()
  const m = a.getUTCMonth() + months
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate()
  return Date.UTC(y, m, Math.min(a.getUTCDate(), lastDay), a.getUTCHours(), a.getUTCMinutes(), a.getUTCSeconds(), a.getUTCMilliseconds())
}

/** The cycle [start, end) holding `nowMs`, for a subscription anchored at `anchorMs`. */
export function billingCycle(anchorMs: number, nowMs: number): { startMs: number; endMs: number } {
  const a = new Date(anchorMs)
  const n = new Date(nowMs)
  let k = (n.getUTCFullYear() - a.getUTCFullYear()) * 12 + (n.getUTCMonth() - a.getUTCMonth())
  while (addMonthsClamped(anchorMs, k) > nowMs) k--
  while (addMonthsClamped(anchorMs, k + 1) <= nowMs) k++
  return { startMs: addMonthsClamped(anchorMs, k), endMs: addMonthsClamped(anchorMs, k + 1) }
}
