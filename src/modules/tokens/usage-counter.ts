/**
 * Per-token request counters kept in memory and written in batches: the request path never
 * writes to disk to count itself. `pending` lets `whoami` include counts not flushed yet.
 */
import type { Clock } from '../../clock'
import type { TokenUsageDelta } from '../../db/rows'
import type { Repositories, Store } from '../../db/store'

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

  /**
   * Takes every pending count out for a write the caller makes; give them back with `restore`
   * if that write fails (or its transaction does not commit).
   */
  drain(): TokenUsageDelta[] {
    if (this.pendingByToken.size === 0) return []
    const batch = [...this.pendingByToken.values()]
    this.pendingByToken = new Map()
    return batch
  }

  /** Puts back counts whose write failed, merged with the ones counted since. */
  restore(batch: TokenUsageDelta[]): void {
    for (const d of batch) {
      const cur = this.pendingByToken.get(d.tokenId)
      if (!cur) this.pendingByToken.set(d.tokenId, d)
      else {
        cur.count += d.count
        cur.lastUsedMs = Math.max(cur.lastUsedMs, d.lastUsedMs)
        for (const [day, n] of d.byDay) cur.byDay.set(day, (cur.byDay.get(day) ?? 0) + n)
      }
    }
  }

  /**
   * Writes every pending count through `repos` (the store, or the caller's transaction: the
   * server's background flush passes the one `store.withoutWaiting` gives it). On failure the
   * counts are kept for the next try. When the transaction around it can still fail after this
   * resolves, use `drain` and `restore` around that transaction instead.
   */
  async flush(repos: Pick<Repositories, 'tokens'> = this.store): Promise<void> {
    const batch = this.drain()
    if (batch.length === 0) return
    try {
      await repos.tokens.addUsage(batch)
    } catch (err) {
      this.restore(batch)
      throw err
    }
  }
}
