/**
 * The process's Redis handle (src/shared/redis.ts): commands with a deadline, the health probe,
 * subscriber connections that subscribe again after a reconnect, and what a stopped, restarted or
 * frozen Redis (a server of the test's own) does to each within the deadline.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ConfigError, loadConfig } from '../../src/config'
import { openRedis, RedisUnavailableError, type SharedRedis } from '../../src/shared/redis'
import { HAVE_REDIS_SERVER, OwnRedis, TEST_REDIS_URL, testKeyPrefix } from './redis-server'

const configFor = (url: string, extra: Record<string, string> = {}) =>
  loadConfig({}, { MLC_REDIS_URL: url, MLC_REDIS_KEY_PREFIX: testKeyPrefix('redis'), ...extra })

/** The error a command failed with (null when it answered). */
const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e) => e as RedisUnavailableError,
  )

/** Waits until `check` holds, polling every 20 ms, up to `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<number> {
  const started = performance.now()
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`condition not met within ${ms} ms`)
    await Bun.sleep(20)
  }
  return performance.now() - started
}

describe('openRedis: configuration', () => {
  test('a URL that is not a Redis URL is a ConfigError naming the variable, without the password', async () => {
    const err = await openRedis(loadConfig({}, { MLC_REDIS_URL: 'http://u:secret@host:1' })).catch((e) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect(String(err.message)).toContain('MLC_REDIS_URL')
    expect(String(err.message)).not.toContain('secret')
  })

  test('defaults: 50 ms deadline, prefix mlc:', () => {
    const c = loadConfig({}, {})
    expect([c.redisUrl, c.redisTimeoutMs, c.redisKeyPrefix]).toEqual(['', 50, 'mlc:'])
    expect(() => loadConfig({}, { MLC_REDIS_TIMEOUT_MS: '0' })).toThrow(ConfigError)
    expect(() => loadConfig({}, { MLC_REDIS_TIMEOUT_MS: '5e1' })).toThrow(ConfigError)
  })
})

describe.skipIf(!TEST_REDIS_URL)('openRedis on the shared Redis', () => {
  let redis: SharedRedis
  beforeAll(async () => {
    redis = await openRedis(configFor(TEST_REDIS_URL))
  })
  afterAll(() => redis.close())

  test('commands answer; a server error reply rejects as such, not as unavailable', async () => {
    expect(redis.available).toBe(true)
    const key = `${redis.prefix}counter`
    expect(await redis.send('INCR', [key])).toBe(1)
    expect(await redis.send('INCR', [key])).toBe(2)
    await redis.send('DEL', [key])
    const err = await redis.send('NOSUCHCOMMAND', []).catch((e) => e)
    expect(err).not.toBeInstanceOf(RedisUnavailableError)
    expect(redis.available).toBe(true)
  })

  test('probe answers null', async () => {
    expect(await redis.probe(1000)).toBeNull()
  })

  test('a subscriber receives what the command connection publishes, once per message', async () => {
    const sub = await redis.subscriber()
    const got: string[] = []
    const channel = `${redis.prefix}ch`
    await sub.subscribe(channel, (m) => got.push(m))
    // Subscribing the channel again replaces the listener: still one delivery per message.
    await sub.subscribe(channel, (m) => got.push(`2:${m}`))
    await redis.send('PUBLISH', [channel, 'a'])
    await until(() => got.length >= 1)
    await Bun.sleep(50)
    expect(got).toEqual(['2:a'])
    await sub.unsubscribe(channel)
    await redis.send('PUBLISH', [channel, 'b'])
    await Bun.sleep(50)
    expect(got).toEqual(['2:a'])
    sub.close()
  })
})

describe.skipIf(!HAVE_REDIS_SERVER)('openRedis on a Redis of its own that stops, restarts and freezes', () => {
  const server = new OwnRedis()
  let redis: SharedRedis
  const changes: boolean[] = []
  beforeAll(async () => {
    await server.start()
    redis = await openRedis(configFor(server.url, { MLC_REDIS_TIMEOUT_MS: '50' }))
    redis.onAvailability((up) => changes.push(up))
  })
  afterAll(async () => {
    await redis.close()
    await server.stop()
  })

  test('stopped: commands fail at once as unavailable, the probe says cannot connect; restarted: back within seconds, subscriptions too', async () => {
    const sub = await redis.subscriber()
    const channel = `${redis.prefix}live`
    const got: string[] = []
    let reconnects = 0
    sub.onReconnect(() => reconnects++)
    await sub.subscribe(channel, (m) => got.push(m))

    await server.stop()
    await until(() => !redis.available, 2000)
    const started = performance.now()
    const err = await redis.send('PING', []).catch((e) => e)
    expect(err).toBeInstanceOf(RedisUnavailableError)
    expect(performance.now() - started).toBeLessThan(20)
    expect(await redis.probe(200)).toMatch(/^cannot connect/)

    await server.start()
    const back = await until(() => redis.available, 8000)
    expect(back).toBeLessThan(8000)
    expect(await redis.send('PING', [])).toBe('PONG')
    expect(await redis.probe()).toBeNull()
    // The subscriber subscribed again by itself: one delivery, not two.
    await until(() => reconnects > 0, 8000)
    await redis.send('PUBLISH', [channel, 'after restart'])
    await until(() => got.length > 0)
    await Bun.sleep(50)
    expect(got).toEqual(['after restart'])
    expect(changes).toEqual([false, true])
    sub.close()
  }, 30_000)

  test('frozen: a command is given up after the deadline, the next ones fail at once; thawed: available again', async () => {
    changes.length = 0
    server.freeze()
    try {
      let started = performance.now()
      const first = await failure(redis.send('PING', []))
      const waited = performance.now() - started
      expect(first).toBeInstanceOf(RedisUnavailableError)
      expect(first?.reason).toBe('timeout')
      expect(waited).toBeGreaterThanOrEqual(45)
      expect(waited).toBeLessThan(150)
      started = performance.now()
      const next = await failure(redis.send('PING', []))
      expect(next?.reason).toBe('stalled')
      expect(performance.now() - started).toBeLessThan(10)
      expect(redis.available).toBe(false)
      expect(await redis.probe(100)).toBe('no answer within 100 ms')
    } finally {
      server.thaw()
    }
    await until(() => redis.available, 5000)
    expect(await redis.send('PING', [])).toBe('PONG')
    expect(changes).toEqual([false, true])
  }, 30_000)

  test('frozen for longer than 5 s: the connection is replaced and works once thawed', async () => {
    changes.length = 0
    server.freeze()
    try {
      await redis.send('PING', []).catch(() => {})
      await Bun.sleep(6000)
      expect(redis.available).toBe(false)
    } finally {
      server.thaw()
    }
    await until(() => redis.available, 8000)
    expect(await redis.send('PING', [])).toBe('PONG')
  }, 30_000)
})

describe.skipIf(!HAVE_REDIS_SERVER)('openRedis while Redis is down at start', () => {
  const server = new OwnRedis()
  test('the start goes on without it, and the handle connects once Redis answers', async () => {
    const redis = await openRedis(configFor(server.url))
    try {
      expect(redis.available).toBe(false)
      expect((await failure(redis.send('PING', [])))?.reason).toBe('down')
      await server.start()
      await until(() => redis.available, 8000)
      expect(await redis.send('PING', [])).toBe('PONG')
    } finally {
      await redis.close()
      await server.stop()
    }
  }, 30_000)
})
