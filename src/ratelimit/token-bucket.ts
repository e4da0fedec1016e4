/**
 * In-memory token buckets. A bucket holds up to `capacity` requests and refills continuously at
 * `capacity` per window (60 s), so an empty bucket is full again one window later. Nothing here
 * touches the disk on the request path; `takeDirty`/`restore` serve the periodic checkpoint.
 *
 * A full bucket is what a key without a bucket gets anyway, so it needs neither memory nor a
 * checkpoint row: only buckets that are draining are written (exact across a restart), a bucket
 * that has filled up again has its row deleted and is forgotten. So memory and the
 * `rate_buckets` table hold the keys seen in the last window, not every client IP ever seen.
 */
import type { Clock } from '../clock'
import type { LimitStep, RateLimiter } from '../shared/rate-limit'

interface Bucket {
  tokens: number
  updatedMs: number
  /** The capacity of the last take or peek; 0 for a bucket restored from a checkpoint and not used since. */
  capacity: number
  /** Changed since the last checkpoint. */
  dirty: boolean
  /** The checkpoint table may hold a row for this key (it was written, or restored from it). */
  stored: boolean
}

/** What a checkpoint writes for one key: its level, or `full` (the row goes: full is the default). */
export interface BucketCheckpoint {
  key: string
  tokens: number
  updated_ms: number
  full: boolean
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

/**
 * The result of a bucket holding `tokens` (after refill, and after the take when `allowed`), as
 * both implementations compute it: the headers are the same whether the bucket lives here or in Redis.
 */
export function bucketResult(tokens: number, capacity: number, windowMs: number, allowed: boolean): TakeResult {
  const perMs = capacity / windowMs
  return {
    allowed,
    limit: capacity,
    remaining: Math.max(0, Math.floor(tokens)),
    resetSeconds: Math.ceil((capacity - tokens) / perMs / 1000),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)),
  }
}

/** The in-process buckets: one instance's limits, synchronous, checkpointed to the database by the server. */
export class TokenBuckets implements RateLimiter {
  /** Kept in this process (the limits of one instance). */
  readonly shared = false

  private readonly buckets = new Map<string, Bucket>()

  constructor(
    private readonly clock: Clock,
    /** How long an empty bucket takes to fill; a checkpoint older than this is a full bucket. */
    readonly windowMs = 60_000,
  ) {}

  private refill(key: string, capacity: number, now: number): Bucket {
    let b = this.buckets.get(key)
    if (!b) {
      b = { tokens: capacity, updatedMs: now, capacity, dirty: false, stored: false }
      this.buckets.set(key, b)
      return b
    }
    const elapsed = Math.max(0, now - b.updatedMs)
    b.tokens = Math.min(capacity, b.tokens + (elapsed * capacity) / this.windowMs)
    b.updatedMs = now
    b.capacity = capacity
    return b
  }

  /** Whether `b` has filled up by `now` (a restored bucket of unknown capacity: once a window has passed). */
  private isFull(b: Bucket, now: number): boolean {
    const elapsed = Math.max(0, now - b.updatedMs)
    if (b.capacity <= 0) return elapsed >= this.windowMs
    return b.tokens + (elapsed * b.capacity) / this.windowMs >= b.capacity
  }

  private result(b: Pick<Bucket, 'tokens'>, capacity: number, allowed: boolean): TakeResult {
    return bucketResult(b.tokens, capacity, this.windowMs, allowed)
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
   * so parallel requests cannot all pass a check made before any of them was counted. Answers
   * the bucket's state after the refund.
   */
  refund(key: string, capacity: number): TakeResult {
    const b = this.refill(key, capacity, this.clock.now())
    b.tokens = Math.min(capacity, b.tokens + 1)
    b.dirty = true
    return this.result(b, capacity, true)
  }

  /** The bucket's state without taking from it (a key without a bucket gets a full one, and none is kept). */
  peek(key: string, capacity: number): TakeResult {
    const b = this.buckets.has(key) ? this.refill(key, capacity, this.clock.now()) : { tokens: capacity }
    return this.result(b, capacity, b.tokens >= 1)
  }

  /** Applies `steps` in order, stopping after the first that refuses (see RateLimiter.takeInOrder). */
  takeInOrder(steps: readonly LimitStep[]): TakeResult[] {
    const out: TakeResult[] = []
    for (const s of steps) {
      const r = s.op === 'take' ? this.take(s.key, s.capacity) : this.peek(s.key, s.capacity)
      out.push(r)
      if (!r.allowed) break
    }
    return out
  }

  /** How many buckets are in memory (full ones are forgotten at the next checkpoint). */
  get size(): number {
    return this.buckets.size
  }

  /**
   * What the next checkpoint writes, marked as written: the level of each bucket that changed
   * and is still draining, and `full` for each key whose row should go (its bucket filled up
   * again, or its checkpoint is a window old). Full buckets without a row are only forgotten.
   */
  takeDirty(): BucketCheckpoint[] {
    const now = this.clock.now()
    const out: BucketCheckpoint[] = []
    for (const [key, b] of this.buckets) {
      const full = this.isFull(b, now)
      if (full) {
        b.dirty = false
        if (b.stored) out.push({ key, tokens: b.tokens, updated_ms: b.updatedMs, full: true })
        else this.buckets.delete(key)
        b.stored = false
      } else if (b.dirty) {
        b.dirty = false
        b.stored = true
        out.push({ key, tokens: b.tokens, updated_ms: b.updatedMs, full: false })
      }
    }
    return out
  }

  /** Hands back what a `takeDirty` returned when its save failed, so the next checkpoint writes it again. */
  returnDirty(rows: { key: string }[]): void {
    for (const r of rows) {
      const b = this.buckets.get(r.key)
      if (!b) continue
      b.dirty = true
      // The failed save may have left the previous row in place.
      b.stored = true
    }
  }

  /**
   * Loads checkpointed buckets (on start). Their capacity is known again at their next use; until
   * then one counts as full a window after its checkpoint, and the next checkpoint drops its row.
   */
  restore(rows: { key: string; tokens: number; updated_ms: number }[]): void {
    for (const r of rows) this.buckets.set(r.key, { tokens: r.tokens, updatedMs: r.updated_ms, capacity: 0, dirty: false, stored: true })
  }

  /** Forgets full buckets whose row is gone (after a checkpoint saved): memory holds only draining ones. */
  sweep(): void {
    const now = this.clock.now()
    for (const [key, b] of this.buckets) if (!b.dirty && !b.stored && this.isFull(b, now)) this.buckets.delete(key)
  }
}
