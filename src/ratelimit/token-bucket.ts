/**
 * In-memory token buckets. A bucket holds up to `capacity` requests and refills continuously at
 * `capacity` per window (60 s), so an empty bucket is full again one window later. Nothing here
 * touches the disk on the request path; `snapshot`/`restore` serve the periodic checkpoint.
 */
import type { Clock } from '../clock'

interface Bucket {
  tokens: number
  updatedMs: number
  dirty: boolean
}

/** The outcome of one take, with everything the rate-limit headers need. */
export interface TakeResult {
  allowed: boolean
  limit: number
  /** Whole requests left after this one. */
  remaining: number
  /** Seconds until the bucket is full again. */
  resetSeconds: number
  /** Seconds until one more request would pass (0 when allowed). */
  retryAfterSeconds: number
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>()

  constructor(
    private readonly clock: Clock,
    private readonly windowMs = 60_000,
  ) {}

  private refill(key: string, capacity: number, now: number): Bucket {
    let b = this.buckets.get(key)
    if (!b) {
      b = { tokens: capacity, updatedMs: now, dirty: true }
      this.buckets.set(key, b)
      return b
    }
    const elapsed = Math.max(0, now - b.updatedMs)
    b.tokens = Math.min(capacity, b.tokens + (elapsed * capacity) / this.windowMs)
    b.updatedMs = now
    return b
  }

  private result(b: Bucket, capacity: number, allowed: boolean): TakeResult {
    const perMs = capacity / this.windowMs
    return {
      allowed,
      limit: capacity,
      remaining: Math.max(0, Math.floor(b.tokens)),
      resetSeconds: Math.ceil((capacity - b.tokens) / perMs / 1000),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)),
    }
  }

  /** Takes one request from the bucket under `key`. */
  take(key: string, capacity: number): TakeResult {
    const b = this.refill(key, capacity, this.clock.now())
    const allowed = b.tokens >= 1
    if (allowed) b.tokens -= 1
    b.dirty = true
    return this.result(b, capacity, allowed)
  }

  /**
   * Gives back one request taken under `key` (never above `capacity`). A limiter whose work is
   * async takes before the work and refunds when it turns out not to count (a right password),
   * so parallel requests cannot all pass a check made before any of them was counted.
   */
  refund(key: string, capacity: number): void {
    const b = this.refill(key, capacity, this.clock.now())
    b.tokens = Math.min(capacity, b.tokens + 1)
    b.dirty = true
  }

  /** The bucket's state without taking from it. */
  peek(key: string, capacity: number): TakeResult {
    const b = this.refill(key, capacity, this.clock.now())
    return this.result(b, capacity, b.tokens >= 1)
  }

  /** Buckets changed since the last snapshot; marks them clean. */
  takeDirty(): { key: string; tokens: number; updated_ms: number }[] {
    const out: { key: string; tokens: number; updated_ms: number }[] = []
    for (const [key, b] of this.buckets) {
      if (!b.dirty) continue
      b.dirty = false
      out.push({ key, tokens: b.tokens, updated_ms: b.updatedMs })
    }
    return out
  }

  /** Marks buckets from a `takeDirty` whose save failed dirty again, so the next checkpoint writes them. */
  returnDirty(rows: { key: string }[]): void {
    for (const r of rows) {
      const b = this.buckets.get(r.key)
      if (b) b.dirty = true
    }
  }

  /** Loads checkpointed buckets (on start). */
  restore(rows: { key: string; tokens: number; updated_ms: number }[]): void {
    for (const r of rows) this.buckets.set(r.key, { tokens: r.tokens, updatedMs: r.updated_ms, dirty: false })
  }

  /** Forgets buckets idle for a full window: they would be full anyway. Keeps memory bounded. */
  sweep(): void {
    const cutoff = this.clock.now() - this.windowMs
    for (const [key, b] of this.buckets) if (!b.dirty && b.updatedMs < cutoff) this.buckets.delete(key)
  }
}
