/**
 * Per-token request counters kept in memory and written in batches: the request path never
 * writes to disk to count itself. `pending` lets `whoami` include counts not flushed yet.
 */
import type { Clock } from '../../clock'
import type { Store } from '../../db/store'
import type { TokenUsageDelta } from '../../db/tokens'

/** UTC day (YYYY-MM-DD) of a timestamp. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

export class UsageCounter {
  private pendingByToken = new Map<number, TokenUsageDelta>()
  private currentDay = ''
  private currentDayStartMs = 0

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  private day(now: number): string {
    // Recompute the day string only when the UTC day changes: cheaper than toISOString per request.
    if (now < this.currentDayStartMs || now >= this.currentDayStartMs + 86_400_000) {
      this.currentDayStartMs = now - (now % 86_400_000)
      this.currentDay = utcDay(now)
    }
    return this.currentDay
  }

  /** Counts one request for a token. */
  count(tokenId: number): void {
    const now = this.clock.now()
    const day = this.day(now)
    let d = this.pendingByToken.get(tokenId)
    if (!d) {
      d = { tokenId, count: 0, lastUsedMs: now, byDay: new Map() }
      this.pendingByToken.set(tokenId, d)
    }
    d.count++
    d.lastUsedMs = now
    d.byDay.set(day, (d.byDay.get(day) ?? 0) + 1)
  }

  /** Unflushed counts of a token: total, today's, and the last use. */
  pending(tokenId: number): { count: number; today: number; lastUsedMs: number | null } {
    const d = this.pendingByToken.get(tokenId)
    if (!d) return { count: 0, today: 0, lastUsedMs: null }
    return { count: d.count, today: d.byDay.get(this.day(this.clock.now())) ?? 0, lastUsedMs: d.lastUsedMs }
  }

  /** Today's UTC day string. */
  today(): string {
    return this.day(this.clock.now())
  }

  /** Writes every pending count in one transaction. On failure the counts are kept for the next try. */
  flush(): void {
    if (this.pendingByToken.size === 0) return
    const batch = [...this.pendingByToken.values()]
    this.pendingByToken = new Map()
    try {
      this.store.tokens.addUsage(batch)
    } catch (err) {
      for (const d of batch) {
        const cur = this.pendingByToken.get(d.tokenId)
        if (!cur) this.pendingByToken.set(d.tokenId, d)
        else {
          cur.count += d.count
          for (const [day, n] of d.byDay) cur.byDay.set(day, (cur.byDay.get(day) ?? 0) + n)
        }
      }
      throw err
    }
  }
}
