/**
 * The token buckets every limiter uses, behind one interface with two implementations:
 * - `TokenBuckets` (src/ratelimit/token-bucket.ts): in this process, synchronous, checkpointed to
 *   the database. One instance (no MLC_REDIS_URL).
 * - `RedisRateLimiter` (here): one bucket per key in Redis, read and written by one Lua script
 *   (atomic), so every instance draws from the same bucket. Same semantics and headers: `capacity`
 *   per window (60 s), refilled continuously. The time is the app clock's, passed in ARGV (tests
 *   move it; instances' clocks must be NTP-synchronised: a bucket never moves back in time, so a
 *   clock behind by d ms refills d ms later, never more). Keys live only while a bucket drains
 *   (PEXPIRE = time to full): a missing key is a full bucket.
 *
 * Results are `T | Promise<T>`: the in-process path stays free of promises; callers await only
 * when they got one (`r instanceof Promise ? await r : r`).
 *
 * When Redis cannot answer within MLC_REDIS_TIMEOUT_MS (down, stalled, error reply), each call
 * says what to do (`WhenUnavailable`): `local` takes from a bucket of this instance instead (the
 * limit holds per instance, so the cluster admits up to N x capacity), `closed` refuses with a 503
 * (UnavailableError). docs/operations.md, "More than one machine", says which limit does which.
 */
import type { Clock } from '../clock'
import { UnavailableError } from '../errors'
import type { Logger } from '../log'
import type { Counter, MetricsRegistry } from '../metrics/registry'
import { bucketResult, type TakeResult, TokenBuckets } from '../ratelimit/token-bucket'
import { RedisUnavailableError, type SharedRedis } from './redis'

/** What a limit does while Redis cannot answer: per-instance buckets (`local`) or a 503 (`closed`). */
export type WhenUnavailable = 'local' | 'closed'

/** Token buckets keyed by string; see the file comment. */
export interface RateLimiter {
  /** How long an empty bucket takes to fill (60 s). */
  readonly windowMs: number
  /** True when every instance draws from the same buckets (Redis). */
  readonly shared: boolean
  /** Takes one request from the bucket under `key` (created full with `capacity`). */
  take(key: string, capacity: number, whenUnavailable?: WhenUnavailable): TakeResult | Promise<TakeResult>
  /** The bucket's state without taking from it. */
  peek(key: string, capacity: number, whenUnavailable?: WhenUnavailable): TakeResult | Promise<TakeResult>
  /** Gives back one request taken under `key`, never above `capacity` (best effort: never throws). */
  refund(key: string, capacity: number): void | Promise<void>
}

/** The 503 of a limit that fails closed while Redis is unavailable. */
export class LimitUnavailableError extends UnavailableError {
  constructor() {
    super('This limit cannot be checked right now (shared state unavailable); retry in a few seconds.')
  }
}

/**
 * One bucket: KEYS[1]; ARGV capacity, now (ms), window (ms), op (take | peek | refund).
 * Answers { allowed (0/1), tokens after the op (as a string: Lua numbers reach the client as
 * truncated integers otherwise) }. Mirrors TokenBuckets.refill/take/peek/refund.
 */
export const BUCKET_SCRIPT = `
local cap = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local op = ARGV[4]
local tokens = cap
local state = redis.call('HMGET', KEYS[1], 't', 'u')
if state[1] then
  tokens = tonumber(state[1])
  local updated = tonumber(state[2])
  if now > updated then
    tokens = tokens + (now - updated) * cap / window
  else
    now = updated
  end
  if tokens > cap then tokens = cap end
elseif op == 'peek' then
  return {1, ARGV[1]}
end
local allowed = 0
if op == 'take' then
  if tokens >= 1 then
    tokens = tokens - 1
    allowed = 1
  end
elseif op == 'refund' then
  tokens = tokens + 1
  if tokens > cap then tokens = cap end
  allowed = 1
elseif tokens >= 1 then
  allowed = 1
end
local shown = string.format('%.17g', tokens)
if op ~= 'peek' then
  if tokens >= cap then
    redis.call('DEL', KEYS[1])
  else
    redis.call('HSET', KEYS[1], 't', shown, 'u', string.format('%.17g', now))
    redis.call('PEXPIRE', KEYS[1], math.ceil((cap - tokens) * window / cap) + 1000)
  end
end
return {allowed, shown}
`

/** How often, at most, a limit falling back is logged. */
const FALLBACK_LOG_INTERVAL_MS = 30_000

/** The bucket script's SHA-1, as EVALSHA wants it. */
const SCRIPT_SHA = new Bun.CryptoHasher('sha1').update(BUCKET_SCRIPT).digest('hex')

/** Token buckets in Redis, shared by every instance; see the file comment. */
export class RedisRateLimiter implements RateLimiter {
  readonly shared = true
  /** Buckets of this instance, used while Redis cannot answer (`local`). */
  private fallback: TokenBuckets
  private fallbackSweptMs = 0
  private readonly fallbacks: Counter | null
  private loggedMs = -Infinity
  private unloggedFallbacks = 0

  constructor(
    private readonly redis: SharedRedis,
    private readonly clock: Clock,
    private readonly opts: { logger?: Logger; metrics?: MetricsRegistry } = {},
    readonly windowMs = 60_000,
  ) {
    this.fallback = new TokenBuckets(clock, windowMs)
    this.fallbacks =
      opts.metrics?.counter(
        'mlc_rate_limit_fallbacks_total',
        'Rate-limit checks answered without Redis (unreachable or slower than MLC_REDIS_TIMEOUT_MS), by limit and what was done (local: per-instance bucket; closed: 503).',
        ['limit', 'mode'],
      ) ?? null
    // Back from an outage: the per-instance buckets are forgotten (Redis holds the truth again).
    redis.onAvailability((up) => {
      if (up) this.fallback = new TokenBuckets(clock, windowMs)
    })
  }

  take(key: string, capacity: number, whenUnavailable: WhenUnavailable = 'local'): Promise<TakeResult> {
    return this.run('take', key, capacity, whenUnavailable)
  }

  peek(key: string, capacity: number, whenUnavailable: WhenUnavailable = 'local'): Promise<TakeResult> {
    return this.run('peek', key, capacity, whenUnavailable)
  }

  async refund(key: string, capacity: number): Promise<void> {
    try {
      await this.call('refund', key, capacity)
    } catch {
      // The take may have gone to the local bucket; giving one back there never overfills it.
      this.fallback.refund(key, capacity)
    }
  }

  private async run(op: 'take' | 'peek', key: string, capacity: number, whenUnavailable: WhenUnavailable): Promise<TakeResult> {
    let reply: [number, string]
    try {
      reply = await this.call(op, key, capacity)
    } catch (err) {
      return this.without(op, key, capacity, whenUnavailable, err)
    }
    return bucketResult(Number(reply[1]), capacity, this.windowMs, reply[0] === 1)
  }

  /** One script run: EVALSHA, and EVAL when Redis does not know the script (first use, after a restart or SCRIPT FLUSH). */
  private async call(op: string, key: string, capacity: number): Promise<[number, string]> {
    const started = performance.now()
    const args = ['1', `${this.redis.prefix}rl:${key}`, String(capacity), String(this.clock.now()), String(this.windowMs), op]
    try {
      return (await this.redis.send('EVALSHA', [SCRIPT_SHA, ...args])) as [number, string]
    } catch (err) {
      if (!String((err as Error)?.message).includes('NOSCRIPT')) throw err
      // The second round trip gets what is left of the deadline.
      const left = Math.max(1, this.redis.timeoutMs - (performance.now() - started))
      return (await this.redis.send('EVAL', [BUCKET_SCRIPT, ...args], left)) as [number, string]
    }
  }

  /** Answers a check Redis could not: from the local bucket, or a 503. */
  private without(op: 'take' | 'peek', key: string, capacity: number, whenUnavailable: WhenUnavailable, err: unknown): TakeResult {
    const limit = key.slice(0, Math.max(0, key.indexOf(':'))) || 'other'
    this.fallbacks?.inc([limit, whenUnavailable])
    this.logFallback(err)
    if (whenUnavailable === 'closed') throw new LimitUnavailableError()
    const now = this.clock.now()
    if (now - this.fallbackSweptMs >= this.windowMs) {
      // Nothing is checkpointed: this only lets full buckets go, so a long outage keeps memory bounded.
      this.fallback.takeDirty()
      this.fallbackSweptMs = now
    }
    return op === 'take' ? this.fallback.take(key, capacity) : this.fallback.peek(key, capacity)
  }

  private logFallback(err: unknown): void {
    this.unloggedFallbacks++
    const now = performance.now()
    if (now - this.loggedMs < FALLBACK_LOG_INTERVAL_MS) return
    this.loggedMs = now
    this.opts.logger?.warn('rate limits checked without redis: per-instance buckets, sign-in refused (503)', {
      checks: this.unloggedFallbacks,
      error: err instanceof RedisUnavailableError ? err.reason : String((err as Error)?.message ?? err),
    })
    this.unloggedFallbacks = 0
  }
}
