/** Per-token buckets: headers on every response, 429 with Retry-After, refill, restart survival. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createApp } from '../../src/app'
import { openStore } from '../../src/db/open-store'
import { silentLogger } from '../../src/log'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(() => t.cleanup())

describe('rate limits', () => {
  test('every authenticated response announces the limit (free plan: 60/min)', async () => {
    const r = await t.call('GET', '/v1/tags', { token: t.readToken })
    expect(r.headers.get('x-ratelimit-limit')).toBe('60')
    expect(Number(r.headers.get('x-ratelimit-remaining'))).toBe(59)
    const reset = Number(r.headers.get('x-ratelimit-reset'))
    expect(reset).toBeGreaterThanOrEqual(Math.floor(t.clock.now() / 1000))
    expect(r.headers.get('ratelimit-policy')).toBe('"plan";q=60;w=60')
    expect(r.headers.get('ratelimit')).toMatch(/^"plan";r=59;t=\d+$/)
  })

  test('the growth plan gets 600', async () => {
    const r = await t.call('GET', '/v1/tags', { token: t.otherSiteToken })
    expect(r.headers.get('x-ratelimit-limit')).toBe('600')
  })

  test('the 61st request in a minute is a 429 with Retry-After; a second later one passes again', async () => {
    const { createToken } = await import('../../src/modules/tokens/service')
    const tok = (await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })).token
    for (let i = 0; i < 60; i++) expect((await t.request('GET', '/v1/tags', { token: tok })).status).toBe(200)
    const limited = await t.call('GET', '/v1/tags', { token: tok })
    expectError(limited, 429, 'rate_limited')
    expect(limited.headers.get('retry-after')).toBe('1')
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0')
    t.clock.advance(1000)
    expect((await t.request('GET', '/v1/tags', { token: tok })).status).toBe(200)
    // After a full minute the bucket is full again.
    t.clock.advance(60_000)
    const full = await t.call('GET', '/v1/tags', { token: tok })
    expect(full.headers.get('x-ratelimit-remaining')).toBe('59')
  })

  test('buckets are per token, not per IP', async () => {
    const { createToken } = await import('../../src/modules/tokens/service')
    const a = (await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })).token
    const b = (await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })).token
    for (let i = 0; i < 60; i++) await t.request('GET', '/v1/tags', { token: a })
    expect((await t.request('GET', '/v1/tags', { token: a })).status).toBe(429)
    expect((await t.request('GET', '/v1/tags', { token: b })).status).toBe(200)
  })

  test('a checkpointed bucket survives a restart', async () => {
    const { createToken } = await import('../../src/modules/tokens/service')
    const tok = (await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })).token
    for (let i = 0; i < 60; i++) await t.request('GET', '/v1/tags', { token: tok })
    // What the server does every few seconds and on shutdown:
    await t.store.rateBuckets.save(t.app.buckets.takeDirty())
    // A new process over the same data dir (or the same PostgreSQL database):
    const store2 = await openStore(t.config)
    const app2 = createApp({ config: t.config, store: store2, clock: t.clock, logger: silentLogger })
    app2.buckets.restore(await store2.rateBuckets.loadAll())
    const r = await app2.handle(new Request('http://localhost/v1/tags', { headers: { authorization: `Bearer ${tok}` } }))
    expect(r.status).toBe(429)
    await store2.close()
  })

  test('buckets whose save failed are written by the next checkpoint', async () => {
    const { createToken } = await import('../../src/modules/tokens/service')
    const tok = await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })
    await t.request('GET', '/v1/tags', { token: tok.token })
    const taken = t.app.buckets.takeDirty()
    expect(taken.map((b) => b.key)).toContain(`token:${tok.id}`)
    expect(t.app.buckets.takeDirty()).toEqual([]) // taken once
    t.app.buckets.returnDirty(taken) // the save found the database locked
    const again = t.app.buckets.takeDirty()
    expect(again.map((b) => b.key)).toEqual(taken.map((b) => b.key))
  })

  test('a burst of 40 parallel unknown tokens from one address: 30 are answered 401, then 429 even for a good token', async () => {
    t.clock.advance(60_000)
    const ip = '10.9.0.1'
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => t.request('GET', '/v1/tags', { token: `mlc_guess${i}`, ip })))
    expect(answers.map((r) => r.status).sort()).toEqual([...Array(30).fill(401), ...Array(10).fill(429)])
    expect((await t.request('GET', '/v1/tags', { ip })).status).toBe(429)
    expect((await t.request('GET', '/v1/tags', { ip: '10.9.0.2' })).status).toBe(200)
    t.clock.advance(60_000)
  })

  test('a site rate-limit override replaces the plan figure', async () => {
    const { updateSite } = await import('../../src/modules/sites/service')
    const { createSite } = await import('../../src/modules/sites/service')
    const { createToken } = await import('../../src/modules/tokens/service')
    const site = await createSite(t.store, t.clock, { name: 'bench', rateLimit: 5 })
    const tok = (await createToken(t.store, t.clock, { siteId: site.id, scopes: 'read' })).token
    expect((await t.request('GET', '/v1/tags', { token: tok })).headers.get('x-ratelimit-limit')).toBe('5')
    await updateSite(t.store, site.id, { rateLimit: 1000 })
    t.clock.advance(600)
    expect((await t.request('GET', '/v1/tags', { token: tok })).headers.get('x-ratelimit-limit')).toBe('1000')
  })
})
