/**
 * Rate limits shared by several instances through Redis: two apps (two instances, each with its
 * own store connection and its own Redis connection, one key prefix) over one database, requests
 * spread over both. Exactly the documented capacity passes across both, with the headers one
 * instance alone would send; failed auth, widget, sign-in and whoami see one bucket too. Then a
 * Redis of the test's own stopped and frozen under them: API and widget limits go on per
 * instance within the deadline, sign-in answers 503, and both share again once Redis is back.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type App, createApp } from '../../src/app'
import { createAdmin } from '../../src/dashboard/accounts'
import { openStore } from '../../src/db/open-store'
import type { Store } from '../../src/db/store'
import { setRateLimitHeaders } from '../../src/http/auth'
import { silentLogger } from '../../src/log'
import { createToken } from '../../src/modules/tokens/service'
import { TokenBuckets } from '../../src/ratelimit/token-bucket'
import { RedisRateLimiter } from '../../src/shared/rate-limit'
import { openRedis, type SharedRedis } from '../../src/shared/redis'
import { siteKeyOf } from '../chat/harness'
import { createTestApp, type TestApp } from '../helpers'
import { HAVE_REDIS_SERVER, OwnRedis, TEST_REDIS_URL, testKeyPrefix } from '../shared/redis-server'

const EMAIL = 'admin@example.com'
const PASSWORD = 'a long password'
const RATE_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit-policy', 'ratelimit']

/** Two instances of one cluster: `t.store` and a second connection to the same database, one Redis. */
interface Cluster {
  t: TestApp
  apps: [App, App]
  close(): Promise<void>
}

async function startCluster(redisUrl: string, env: Record<string, string> = {}): Promise<Cluster> {
  const t = await createTestApp({
    MLC_REDIS_URL: redisUrl,
    MLC_REDIS_KEY_PREFIX: testKeyPrefix('shared-limits'),
    MLC_SIGNIN_FAILURES_PER_ACCOUNT: '3',
    MLC_WIDGET_RATE_PER_VISITOR: '3',
    ...env,
  })
  await createAdmin(t.store, t.clock, { email: EMAIL, password: PASSWORD })
  const second = await openStore(t.config)
  const redises: SharedRedis[] = []
  const instance = async (store: Store) => {
    const redis = await openRedis(t.config)
    redises.push(redis)
    return createApp({ config: t.config, store, clock: t.clock, logger: silentLogger, limiter: new RedisRateLimiter(redis, t.clock) })
  }
  const apps: [App, App] = [await instance(t.store), await instance(second)]
  return {
    t,
    apps,
    async close() {
      for (const r of redises) await r.close()
      await second.close()
      await t.cleanup()
    },
  }
}

/** One request to `app` from `ip`. */
function send(app: App, method: string, path: string, opts: { token?: string | null; ip?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body)
  return app.handle(new Request(`http://localhost${path}`, { method, headers, body }), opts.ip ?? '127.0.0.1')
}

function rateHeaders(res: Response): Record<string, string | null> {
  return Object.fromEntries(RATE_HEADERS.map((h) => [h, res.headers.get(h)]))
}

/** What one instance alone would send for the same take. */
function expectedHeaders(reference: TokenBuckets, key: string, capacity: number, nowMs: number): Record<string, string | null> {
  const headers: Record<string, unknown> = {}
  setRateLimitHeaders(headers, reference.take(key, capacity), nowMs)
  return Object.fromEntries(RATE_HEADERS.map((h) => [h, String(headers[h])]))
}

/** Signs in on `app` (the form loaded from the same instance) and answers the POST. */
async function signIn(app: App, email: string, password: string, ip: string): Promise<Response> {
  const form = await app.handle(new Request('http://localhost/dashboard/sign-in'), ip)
  const cookie = form.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ')
  const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? ''
  return app.handle(
    new Request('http://localhost/dashboard/sign-in', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, email, password }).toString(),
    }),
    ip,
  )
}

describe.skipIf(!TEST_REDIS_URL)('two instances sharing one Redis', () => {
  let c: Cluster
  beforeAll(async () => {
    c = await startCluster(TEST_REDIS_URL)
  })
  afterAll(() => c.close())

  test('an API token: exactly 60 requests pass across both, with the headers of one instance; then 429, refill, full again', async () => {
    const { t, apps } = c
    const tok = await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })
    const reference = new TokenBuckets(t.clock)
    for (let i = 0; i < 60; i++) {
      const res = await send(apps[i % 2] as App, 'GET', '/v1/tags', { token: tok.token })
      expect(res.status).toBe(200)
      expect(rateHeaders(res)).toEqual(expectedHeaders(reference, 'tok', 60, t.clock.now()))
    }
    for (const app of apps) {
      const limited = await send(app, 'GET', '/v1/tags', { token: tok.token })
      expect(limited.status).toBe(429)
      expect(limited.headers.get('retry-after')).toBe('1')
      expect(rateHeaders(limited)).toEqual(expectedHeaders(reference, 'tok', 60, t.clock.now()))
    }
    // A second later one more request, on whichever instance comes first.
    t.clock.advance(1000)
    expect((await send(apps[1], 'GET', '/v1/tags', { token: tok.token })).status).toBe(200)
    expect((await send(apps[0], 'GET', '/v1/tags', { token: tok.token })).status).toBe(429)
    t.clock.advance(60_000)
    const full = await send(apps[0], 'GET', '/v1/tags', { token: tok.token })
    expect(full.headers.get('x-ratelimit-remaining')).toBe('59')
    // whoami on the other instance reads the same bucket.
    const who = await (await send(apps[1], 'GET', '/v1/whoami', { token: tok.token })).json()
    expect(who.data.rate_limit).toMatchObject({ limit: 60, remaining: 58 })
  })

  test('150 parallel requests spread over both: exactly 60 answered 200, the rest 429', async () => {
    const { t, apps } = c
    const tok = await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })
    const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => send(apps[i % 2] as App, 'GET', '/v1/tags', { token: tok.token })))
    const statuses = answers.map((r) => r.status)
    expect(statuses.filter((s) => s === 200).length).toBe(60)
    expect(statuses.filter((s) => s === 429).length).toBe(90)
    // Each remaining count from 59 to 0 was handed out once, across both instances.
    const remaining = answers
      .filter((r) => r.status === 200)
      .map((r) => Number(r.headers.get('x-ratelimit-remaining')))
      .sort((a, b) => a - b)
    expect(remaining).toEqual(Array.from({ length: 60 }, (_, i) => i))
  })

  test('failed authentication per address counts on both: 40 parallel guesses give 30 x 401, 10 x 429, then 429 even for a good token', async () => {
    const { t, apps } = c
    t.clock.advance(60_000)
    const ip = '10.9.0.1'
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => send(apps[i % 2] as App, 'GET', '/v1/tags', { token: `mlc_guess${i}`, ip })))
    expect(answers.map((r) => r.status).sort()).toEqual([...Array(30).fill(401), ...Array(10).fill(429)])
    for (const app of apps) {
      expect((await send(app, 'GET', '/v1/tags', { token: t.readToken, ip })).status).toBe(429)
      expect((await send(app, 'GET', '/v1/tags', { token: t.readToken, ip: '10.9.0.2' })).status).toBe(200)
    }
    t.clock.advance(60_000)
  })

  test('a widget visitor (3 per minute) is limited across both instances', async () => {
    const { t, apps } = c
    const pk = await siteKeyOf(t, t.site1)
    const as = { site_key: pk, anon_id: 'shared-visitor' }
    const opened = await send(apps[0], 'POST', '/v1/widget/sessions', { body: as, ip: '10.7.0.1' })
    expect(opened.status).toBe(201)
    const sid = (await opened.json()).data.session_id
    const get = (app: App) => send(app, 'GET', `/v1/widget/sessions/${sid}?${new URLSearchParams(as)}`, { ip: '10.7.0.2' })
    const second = await get(apps[1])
    expect(second.status).toBe(200)
    expect(second.headers.get('x-ratelimit-remaining')).toBe('1')
    expect((await get(apps[0])).status).toBe(200)
    const over = await get(apps[1])
    expect(over.status).toBe(429)
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    t.clock.advance(60_000)
  })

  test('failed sign-ins of one account (3 per minute) count on both; the right password is refused on the other instance too', async () => {
    const { t, apps } = c
    t.clock.advance(60_000)
    for (let i = 0; i < 3; i++) expect((await signIn(apps[i % 2] as App, EMAIL, 'wrong!', `10.0.0.${i + 1}`)).status).toBe(401)
    const limited = await signIn(apps[1], EMAIL, PASSWORD, '10.0.0.9')
    expect(limited.status).toBe(429)
    expect(await limited.text()).toContain('Too many failed sign-ins')
    t.clock.advance(60_000)
    expect((await signIn(apps[0], EMAIL, PASSWORD, '10.0.0.9')).status).toBe(303)
  })
})

describe.skipIf(!HAVE_REDIS_SERVER)('two instances when their Redis stops or freezes (a Redis of the test own)', () => {
  const server = new OwnRedis()
  let c: Cluster
  beforeAll(async () => {
    await server.start()
    c = await startCluster(server.url)
  })
  afterAll(async () => {
    server.thaw()
    await c.close()
    await server.stop()
  })

  test('stopped: API requests are served at once with per-instance buckets, sign-in answers 503; restarted: one bucket again', async () => {
    const { t, apps } = c
    const tok = await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })
    expect((await send(apps[0], 'GET', '/v1/tags', { token: tok.token })).headers.get('x-ratelimit-remaining')).toBe('59')
    await server.stop()
    await Bun.sleep(50)
    for (const app of apps) {
      const started = performance.now()
      const res = await send(app, 'GET', '/v1/tags', { token: tok.token })
      expect(performance.now() - started).toBeLessThan(50)
      expect(res.status).toBe(200)
      // This instance's own bucket, full at first: each instance applies the limit by itself.
      expect(res.headers.get('x-ratelimit-remaining')).toBe('59')
    }
    // The limit still holds per instance: 59 more on instance 0, then 429 there.
    for (let i = 0; i < 59; i++) await send(apps[0], 'GET', '/v1/tags', { token: tok.token })
    expect((await send(apps[0], 'GET', '/v1/tags', { token: tok.token })).status).toBe(429)
    // Sign-in fails closed: 503 with Retry-After, nothing checked.
    const refused = await signIn(apps[1], EMAIL, PASSWORD, '10.3.0.1')
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('5')
    expect(await refused.text()).toContain('cannot be checked right now')

    await server.start()
    // Back on Redis (which restarted empty): one bucket for both again.
    let remaining = ''
    const deadline = Date.now() + 10_000
    while (remaining !== '58' && Date.now() < deadline) {
      t.clock.advance(60_000)
      await send(apps[0], 'GET', '/v1/tags', { token: tok.token })
      remaining = (await send(apps[1], 'GET', '/v1/tags', { token: tok.token })).headers.get('x-ratelimit-remaining') ?? ''
      if (remaining !== '58') await Bun.sleep(100)
    }
    expect(remaining).toBe('58')
    expect((await signIn(apps[1], EMAIL, PASSWORD, '10.3.0.1')).status).toBe(303)
  }, 30_000)

  test('frozen: a request waits for Redis at most the deadline (50 ms), later ones not at all; thawed: one bucket again', async () => {
    const { t, apps } = c
    t.clock.advance(60_000)
    const tok = await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })
    // Remembered by both instances before the freeze (their auth caches).
    for (const app of apps) expect((await send(app, 'GET', '/v1/tags', { token: tok.token })).status).toBe(200)
    server.freeze()
    try {
      const times: number[] = []
      for (let i = 0; i < 4; i++) {
        const started = performance.now()
        const res = await send(apps[i % 2] as App, 'GET', '/v1/tags', { token: tok.token })
        times.push(performance.now() - started)
        expect(res.status).toBe(200)
      }
      // The first request on each instance gives Redis the deadline (one check, then fail fast).
      expect(Math.max(...times)).toBeLessThan(150)
      expect(times[2]).toBeLessThan(20)
      expect(times[3]).toBeLessThan(20)
      const started = performance.now()
      expect((await signIn(apps[0], EMAIL, PASSWORD, '10.4.0.1')).status).toBe(503)
      expect(performance.now() - started).toBeLessThan(150)
    } finally {
      server.thaw()
    }
    t.clock.advance(60_000)
    let remaining = ''
    const deadline = Date.now() + 10_000
    while (remaining !== '58' && Date.now() < deadline) {
      t.clock.advance(60_000)
      await send(apps[0], 'GET', '/v1/tags', { token: tok.token })
      remaining = (await send(apps[1], 'GET', '/v1/tags', { token: tok.token })).headers.get('x-ratelimit-remaining') ?? ''
      if (remaining !== '58') await Bun.sleep(100)
    }
    expect(remaining).toBe('58')
  }, 30_000)
})

describe('request counters of two instances (no Redis needed)', () => {
  test('each instance flushes its own counts and the database adds them up: request_count and the daily rollup are the sum', async () => {
    const t = await createTestApp()
    const second = await openStore(t.config)
    try {
      const a = createApp({ config: t.config, store: t.store, clock: t.clock, logger: silentLogger })
      const b = createApp({ config: t.config, store: second, clock: t.clock, logger: silentLogger })
      const tok = await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })
      for (let i = 0; i < 7; i++) await send(a, 'GET', '/v1/tags', { token: tok.token })
      for (let i = 0; i < 5; i++) await send(b, 'GET', '/v1/tags', { token: tok.token })
      // What each server's flush does, at the same time (PostgreSQL: count = count + n under row locks).
      await Promise.all([t.store.tokens.addUsage(a.usage.drain()), second.tokens.addUsage(b.usage.drain())])
      for (let i = 0; i < 3; i++) await send(b, 'GET', '/v1/tags', { token: tok.token })
      await second.tokens.addUsage(b.usage.drain())
      expect((await t.store.tokens.byId(tok.id))?.request_count).toBe(15)
      expect(await t.store.tokens.dayCount(tok.id, a.usage.today())).toBe(15)
    } finally {
      await second.close()
      await t.cleanup()
    }
  })
})
