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
  /** True when every instance draws from the same buckets (Redis); false: every answer is synchronous (TokenBuckets). */
  readonly shared: boolean
  /** Takes one request from the bucket under `key` (created full with `capacity`). */
  take(key: string, capacity: number, whenUnavailable?: WhenUnavailable): TakeResult | Promise<TakeResult>
  /** The bucket's state without taking from it. */
  peek(key: string, capacity: number, whenUnavailable?: WhenUnavailable): TakeResult | Promise<TakeResult>
  /**
   * Gives back one request taken under `key`, never above `capacity` (best effort: never throws),
   * and answers the bucket's state after it (what a 304's rate-limit headers show).
   */
  refund(key: string, capacity: number): TakeResult | Promise<TakeResult>
  /**
   * Applies `steps` in order, stopping after the first that refuses (a peek of an empty bucket
   * takes nothing after it): the results so far. One Redis round trip for all of them, e.g. the
   * failed-auth gate of an address and the take from a token's bucket.
   */
  takeInOrder(steps: readonly LimitStep[], whenUnavailable?: WhenUnavailable): TakeResult[] | Promise<TakeResult[]>
}

/** One step of `takeInOrder`. */
export interface LimitStep {
  key: string
  capacity: number
  op: 'take' | 'peek'
}

/** The 503 of a limit that fails closed while Redis is unavailable. */
export class LimitUnavailableError extends UnavailableError {
  constructor() {
    super('This limit cannot be checked right now (shared state unavailable); retry in a few seconds.')
  }
}

/**
 * The buckets of KEYS, in order: ARGV now (ms), window (ms), then capacity and op (take | peek |
 * refund) per key; stops after the first step that refuses. Answers allowed (0/1) and the tokens
 * after the op per step run (tokens as strings: Lua numbers reach the client as truncated
 * integers otherwise). Mirrors TokenBuckets.refill/take/peek/refund.
 */
export const BUCKET_SCRIPT = `
local window = tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local cap = tonumber(ARGV[1 + 2 * i])
  local op = ARGV[2 + 2 * i]
  local now = tonumber(ARGV[1])
  local tokens = cap
  local state = redis.call('HMGET', key, 't', 'u')
  if state[1] then
    tokens = tonumber(state[1])
    local updated = tonumber(state[2])
    if now > updated then
      tokens = tokens + (now - updated) * cap / window
    else
      now = updated
    end
    if tokens > cap then tokens = cap end
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
      redis.call('DEL', key)
    else
      redis.call('HSET', key, 't', shown, 'u', string.format('%.17g', now))
      redis.call('PEXPIRE', key, math.ceil((cap - tokens) * window / cap) + 1000)
    end
  end
  out[#out + 1] = allowed
  out[#out + 1] = shown
  if allowed == 0 then break end
end
return out
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

  async take(key: string, capacity: number, whenUnavailable: WhenUnavailable = 'local'): Promise<TakeResult> {
    return (await this.run([{ key, capacity, op: 'take' }], whenUnavailable))[0] as TakeResult
  }

  async peek(key: string, capacity: number, whenUnavailable: WhenUnavailable = 'local'): Promise<TakeResult> {
    return (await this.run([{ key, capacity, op: 'peek' }], whenUnavailable))[0] as TakeResult
  }

  takeInOrder(steps: readonly LimitStep[], whenUnavailable: WhenUnavailable = 'local'): Promise<TakeResult[]> {
    return this.run(steps, whenUnavailable)
  }

  async refund(key: string, capacity: number): Promise<TakeResult> {
    try {
      const reply = await this.call([{ key, capacity, op: 'refund' }])
      return bucketResult(Number(reply[1]), capacity, this.windowMs, true)
    } catch {
      // The take may have gone to the local bucket; giving one back there never overfills it.
      return this.fallback.refund(key, capacity)
    }
  }

  private async run(steps: readonly LimitStep[], whenUnavailable: WhenUnavailable): Promise<TakeResult[]> {
    let reply: (number | string)[]
    try {
      reply = await this.call(steps)
    } catch (err) {
      return this.without(steps, whenUnavailable, err)
    }
    const out: TakeResult[] = []
    for (let i = 0; i * 2 < reply.length; i++) {
      out.push(bucketResult(Number(reply[i * 2 + 1]), (steps[i] as LimitStep).capacity, this.windowMs, reply[i * 2] === 1))
    }
    return out
  }

  /** One script run: EVALSHA, and EVAL when Redis does not know the script (first use, after a restart or SCRIPT FLUSH). */
  private async call(steps: readonly { key: string; capacity: number; op: string }[]): Promise<(number | string)[]> {
    const started = performance.now()
    const args = [String(steps.length)]
    for (const s of steps) args.push(`${this.redis.prefix}rl:${s.key}`)
    args.push(String(this.clock.now()), String(this.windowMs))
    for (const s of steps) args.push(String(s.capacity), s.op)
    try {
      return (await this.redis.send('EVALSHA', [SCRIPT_SHA, ...args])) as (number | string)[]
    } catch (err) {
      if (!String((err as Error)?.message).includes('NOSCRIPT')) throw err
      // The second round trip gets what is left of the deadline.
      const left = Math.max(1, this.redis.timeoutMs - (performance.now() - started))
      return (await this.redis.send('EVAL', [BUCKET_SCRIPT, ...args], left)) as (number | string)[]
    }
  }

  /** Answers steps Redis could not: from the local buckets, or a 503. */
  private without(steps: readonly LimitStep[], whenUnavailable: WhenUnavailable, err: unknown): TakeResult[] {
    for (const s of steps) this.fallbacks?.inc([s.key.slice(0, Math.max(0, s.key.indexOf(':'))) || 'other', whenUnavailable])
    this.logFallback(err)
    if (whenUnavailable === 'closed') throw new LimitUnavailableError()
    const now = this.clock.now()
    if (now - this.fallbackSweptMs >= this.windowMs) {
      // Nothing is checkpointed: this only lets full buckets go, so a long outage keeps memory bounded.
      this.fallback.takeDirty()
      this.fallbackSweptMs = now
    }
    return this.fallback.takeInOrder(steps)
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
