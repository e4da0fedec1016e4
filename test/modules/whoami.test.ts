/** whoami: introspection with counts that include unflushed requests; the daily rollup. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../helpers'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(() => t.cleanup())

describe('whoami', () => {
  test('describes the calling token', async () => {
    const r = await t.call('GET', '/v1/whoami', { token: t.readToken })
    expect(r.status).toBe(200)
    expect(r.body.data).toMatchObject({
      site_id: t.site1,
      name: 'reader',
      scopes: ['read'],
      plan: 'free',
      request_count: 1,
      requests_today: 1,
      rate_limit: { limit: 60, remaining: 59 },
    })
    expect(r.body.data.token_id).toBeGreaterThan(0)
    expect(r.body.data.created_utc).toMatch(/Z$/)
    expect(r.body.data.last_used_utc).toMatch(/Z$/)
  })

  test('counts accumulate in memory, survive a flush, and roll up per day', async () => {
    for (let i = 0; i < 4; i++) await t.request('GET', '/v1/tags')
    const before = (await t.call('GET', '/v1/whoami')).body.data
    expect(before.request_count).toBe(5)
    await t.app.usage.flush()
    const after = (await t.call('GET', '/v1/whoami')).body.data
    expect(after.request_count).toBe(6)
    expect(after.requests_today).toBe(6)
    // Next UTC day: total keeps growing, today's count starts over.
    t.clock.advance(86_400_000)
    const nextDay = (await t.call('GET', '/v1/whoami')).body.data
    expect(nextDay.request_count).toBe(7)
    expect(nextDay.requests_today).toBe(1)
    await t.app.usage.flush()
    const days = await t.store.tokens.dailySince(before.token_id, '2000-01-01')
    expect(days.map((d) => d.count)).toEqual([6, 1])
  })

  test('the flush writes nothing per request: the stored counter only moves on flush', async () => {
    const id = (await t.call('GET', '/v1/whoami', { token: t.otherSiteToken })).body.data.token_id
    await t.app.usage.flush()
    const stored = (await t.store.tokens.byId(id))?.request_count
    await t.request('GET', '/v1/tags', { token: t.otherSiteToken })
    expect((await t.store.tokens.byId(id))?.request_count).toBe(stored)
    await t.app.usage.flush()
    expect((await t.store.tokens.byId(id))?.request_count).toBe((stored ?? 0) + 1)
  })
})
