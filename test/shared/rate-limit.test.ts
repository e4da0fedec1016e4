/**
 * RedisRateLimiter against TokenBuckets: the Lua script gives the same results and headers as the
 * in-process buckets for any sequence of takes, peeks, refunds, time steps and capacity changes
 * (time from the app's manual clock, passed in ARGV); two limiters (two instances) draw from one
 * bucket; keys exist only while a bucket drains; a flushed script cache is reloaded (NOSCRIPT ->
 * EVAL); and with Redis stopped or frozen (a server of the test's own) each call falls back as it
 * says, within the deadline, and goes back to Redis once it answers.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ManualClock } from '../../src/clock'
import { loadConfig } from '../../src/config'
import { UnavailableError } from '../../src/errors'
import { createLogger } from '../../src/log'
import { MetricsRegistry } from '../../src/metrics/registry'
import { type TakeResult, TokenBuckets } from '../../src/ratelimit/token-bucket'
import { LimitUnavailableError, RedisRateLimiter } from '../../src/shared/rate-limit'
import { openRedis, type SharedRedis } from '../../src/shared/redis'
import { HAVE_REDIS_SERVER, OwnRedis, TEST_REDIS_URL, testKeyPrefix } from './redis-server'

const redisConfig = (url: string, prefix = testKeyPrefix('rate-limit')) => loadConfig({}, { MLC_REDIS_URL: url, MLC_REDIS_KEY_PREFIX: prefix })

/** A deterministic pseudo-random sequence (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe.skipIf(!TEST_REDIS_URL)('RedisRateLimiter on the shared Redis', () => {
  let redis: SharedRedis
  let redis2: SharedRedis
  beforeAll(async () => {
    const prefix = testKeyPrefix('rate-limit')
    redis = await openRedis(redisConfig(TEST_REDIS_URL, prefix))
    // A second connection with the same prefix: another instance of the same cluster.
    redis2 = await openRedis(redisConfig(TEST_REDIS_URL, prefix))
  })
  afterAll(async () => {
    await redis.close()
    await redis2.close()
  })

  test('the same answers as TokenBuckets for 3,000 random takes, peeks, refunds, two-step calls and time steps', async () => {
    const clock = new ManualClock()
    const local = new TokenBuckets(clock)
    const shared = new RedisRateLimiter(redis, clock)
    const next = random(17)
    const keys = ['a', 'b', 'c']
    const capacities = [1, 3, 5, 60, 600]
    const capOf = new Map<string, number>()
    for (let i = 0; i < 3000; i++) {
      const key = keys[Math.floor(next() * keys.length)] as string
      // A capacity per key (a plan); the next test changes one.
      if (!capOf.has(key)) capOf.set(key, capacities[Math.floor(next() * capacities.length)] as number)
      const cap = capOf.get(key) as number
      const r = next()
      let want: TakeResult | undefined
      let got: TakeResult | undefined
      if (r < 0.6) {
        want = local.take(key, cap)
        got = await shared.take(key, cap)
      } else if (r < 0.75) {
        want = local.peek(key, cap)
        got = await shared.peek(key, cap)
      } else if (r < 0.8) {
        // A refund answers the bucket after it (a 304's rate-limit headers).
        want = local.refund(key, cap)
        got = await shared.refund(key, cap)
      } else if (r < 0.9) {
        // Two steps in one call (a gate peeked, then a take), stopping after a refusal.
        const other = keys[Math.floor(next() * keys.length)] as string
        if (!capOf.has(other)) capOf.set(other, capacities[Math.floor(next() * capacities.length)] as number)
        const steps = [
          { key: other, capacity: capOf.get(other) as number, op: next() < 0.5 ? ('peek' as const) : ('take' as const) },
          { key, capacity: cap, op: 'take' as const },
        ]
        expect({ i, steps: await shared.takeInOrder(steps) }).toEqual({ i, steps: local.takeInOrder(steps) })
      } else {
        // From a millisecond to a bit over a window.
        clock.advance(Math.floor(next() ** 3 * 70_000) + 1)
      }
      if (want) expect({ i, key, cap, ...got }).toEqual({ i, key, cap, ...want })
    }
  })

  test('a raised capacity (a site override changed): the bucket keeps its level and refills at the new rate, as in process', async () => {
    const clock = new ManualClock()
    const a = new RedisRateLimiter(redis, clock)
    const reference = new TokenBuckets(clock)
    for (let i = 0; i < 3; i++) expect(await a.take('cap:raised', 5)).toEqual(reference.take('cap:raised', 5))
    expect(await a.take('cap:raised', 1000)).toMatchObject({ limit: 1000, remaining: 1 })
    reference.take('cap:raised', 1000)
    clock.advance(6000)
    expect(await a.take('cap:raised', 1000)).toEqual(reference.take('cap:raised', 1000))
    expect(await a.peek('cap:raised', 1000)).toMatchObject({ remaining: 100 })
  })

  test('two instances draw from one bucket: exactly the capacity passes, the headers count down across both', async () => {
    const clock = new ManualClock()
    const a = new RedisRateLimiter(redis, clock)
    const b = new RedisRateLimiter(redis2, clock)
    const reference = new TokenBuckets(clock)
    const results = []
    for (let i = 0; i < 12; i++) {
      const got = await (i % 2 ? b : a).take('two', 10)
      expect(got).toEqual(reference.take('two', 10))
      results.push(got.allowed)
    }
    expect(results.filter(Boolean).length).toBe(10)
    // Refill is continuous: 6 s later one more (10 per minute), on either instance.
    clock.advance(6000)
    expect((await b.take('two', 10)).allowed).toBe(true)
    expect((await a.take('two', 10)).allowed).toBe(false)
  })

  test('a burst of 200 parallel takes over two instances: exactly 60 pass', async () => {
    const clock = new ManualClock()
    const a = new RedisRateLimiter(redis, clock)
    const b = new RedisRateLimiter(redis2, clock)
    const all = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? b : a).take('burst', 60)))
    expect(all.filter((r) => r.allowed).length).toBe(60)
    expect(all.filter((r) => !r.allowed).every((r) => r.retryAfterSeconds === 1 && r.remaining === 0)).toBe(true)
  })

  test('takeInOrder stops after the first refusal: an empty gate takes nothing from the bucket behind it', async () => {
    const clock = new ManualClock()
    const a = new RedisRateLimiter(redis, clock)
    for (let i = 0; i < 2; i++) await a.take('gate:empty', 2)
    const steps = [
      { key: 'gate:empty', capacity: 2, op: 'peek' as const },
      { key: 'gate:behind', capacity: 5, op: 'take' as const },
    ]
    const refused = await a.takeInOrder(steps)
    expect(refused).toEqual([{ allowed: false, limit: 2, remaining: 0, resetSeconds: 60, retryAfterSeconds: 30 }])
    expect((await a.peek('gate:behind', 5)).remaining).toBe(5)
  })

  test('a key exists only while its bucket drains (its TTL is the time to full)', async () => {
    const clock = new ManualClock()
    const a = new RedisRateLimiter(redis, clock)
    const key = `${redis.prefix}rl:ttl`
    await a.peek('ttl', 60)
    expect(await redis.send('EXISTS', [key])).toBe(0)
    await a.take('ttl', 60)
    await a.take('ttl', 60)
    const ttl = Number(await redis.send('PTTL', [key]))
    // 2 of 60 used: full again in 2 s (plus a second of margin).
    expect(ttl).toBeGreaterThan(2000)
    expect(ttl).toBeLessThanOrEqual(3000)
    await a.refund('ttl', 60)
    await a.refund('ttl', 60)
    expect(await redis.send('EXISTS', [key])).toBe(0)
  })

  test('a clock behind the bucket does not move it back in time', async () => {
    const clock = new ManualClock()
    const a = new RedisRateLimiter(redis, clock)
    for (let i = 0; i < 5; i++) await a.take('skew', 5)
    const behind = new ManualClock(clock.now() - 30_000)
    const b = new RedisRateLimiter(redis2, behind)
    expect((await b.take('skew', 5)).allowed).toBe(false)
    // The bucket's time stayed the later one: 12 s after it (one token at 5/min), one passes.
    clock.advance(12_000)
    expect((await a.take('skew', 5)).allowed).toBe(true)
  })
})

describe.skipIf(!HAVE_REDIS_SERVER)('RedisRateLimiter on a Redis of its own', () => {
  const server = new OwnRedis()
  let redis: SharedRedis
  const clock = new ManualClock()
  const lines: string[] = []
  const logger = createLogger({ level: 'warn', write: (l) => lines.push(l) })
  const metrics = new MetricsRegistry()
  let limiter: RedisRateLimiter
  beforeAll(async () => {
    await server.start()
    redis = await openRedis(redisConfig(server.url), { logger })
    limiter = new RedisRateLimiter(redis, clock, { logger, metrics })
  })
  afterAll(async () => {
    await redis.close()
    await server.stop()
  })

  test('after SCRIPT FLUSH (or a restart) the script is sent again (NOSCRIPT -> EVAL)', async () => {
    expect((await limiter.take('ns', 5)).remaining).toBe(4)
    await redis.send('SCRIPT', ['FLUSH'])
    expect((await limiter.take('ns', 5)).remaining).toBe(3)
    expect((await limiter.take('ns', 5)).remaining).toBe(2)
  })

  test('stopped: local takes from a bucket of this instance, closed answers 503, both at once; restarted: Redis again', async () => {
    await limiter.take('token:down', 5)
    await server.stop()
    await Bun.sleep(50)
    let started = performance.now()
    const local = await limiter.take('token:down', 5)
    expect(performance.now() - started).toBeLessThan(20)
    // A bucket of this instance, full at first: the limit still holds per instance.
    expect(local).toEqual({ allowed: true, limit: 5, remaining: 4, resetSeconds: 12, retryAfterSeconds: 0 })
    for (let i = 0; i < 4; i++) await limiter.take('token:down', 5)
    expect((await limiter.take('token:down', 5)).allowed).toBe(false)
    started = performance.now()
    const closed = await limiter.take('signin:x', 5, 'closed').catch((e) => e)
    expect(performance.now() - started).toBeLessThan(20)
    expect(closed).toBeInstanceOf(LimitUnavailableError)
    expect(closed).toBeInstanceOf(UnavailableError)
    expect(closed.status).toBe(503)
    // A refund while down never throws: it goes to this instance's bucket and answers its state.
    expect(await limiter.refund('token:down', 5)).toMatchObject({ allowed: true, limit: 5, remaining: 1 })
    // One warning for the burst, not one per check; the counter has them all.
    expect(lines.filter((l) => l.includes('rate limits checked without redis')).length).toBe(1)
    const text = await metrics.render()
    expect(text).toContain('mlc_rate_limit_fallbacks_total{limit="token",mode="local"} 6')
    expect(text).toContain('mlc_rate_limit_fallbacks_total{limit="signin",mode="closed"} 1')

    await server.start()
    const deadline = Date.now() + 10_000
    while (!redis.available && Date.now() < deadline) await Bun.sleep(20)
    expect(redis.available).toBe(true)
    // Redis restarted empty (no persistence): a full bucket there, not the local one.
    expect((await limiter.take('token:down', 5)).remaining).toBe(4)
    expect(await limiter.take('signin:x', 5, 'closed')).toMatchObject({ allowed: true, remaining: 4 })
  }, 30_000)

  test('frozen: the first check answers within the deadline from the fallback, the next ones at once; thawed: Redis again', async () => {
    expect((await limiter.take('frozen', 5)).remaining).toBe(4)
    server.freeze()
    try {
      let started = performance.now()
      const first = await limiter.take('frozen', 5)
      const waited = performance.now() - started
      expect(waited).toBeGreaterThanOrEqual(45)
      expect(waited).toBeLessThan(150)
      // From this instance's bucket, which starts full.
      expect(first.remaining).toBe(4)
      started = performance.now()
      expect((await limiter.take('signin:y', 5, 'closed').catch((e) => e)).status).toBe(503)
      expect(performance.now() - started).toBeLessThan(10)
    } finally {
      server.thaw()
    }
    const deadline = Date.now() + 5000
    while (!redis.available && Date.now() < deadline) await Bun.sleep(20)
    // The take sent before the deadline reached Redis when it thawed: two taken there.
    expect((await limiter.take('frozen', 5)).remaining).toBe(2)
  }, 30_000)
})
