/** visitors: upsert with partial merge, read with events and segments, cursor list with filters, erasure, every 400. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(() => t.cleanup())

describe('visitors: the product page quickstart', () => {
  test('both curl commands answer ok:true in the legacy URL form (form-encoded Content-Type on track)', async () => {
    const v = await t.call('POST', '/v1/api.ashx?resource=visitors', {
      rawBody: '{"key":"u_42","email":"jay@example.com","name":"Jay"}',
      headers: { 'content-type': 'application/json' },
    })
    expect(v.status).toBe(201)
    expect(v.body.ok).toBe(true)
    expect(v.body.data).toMatchObject({ key: 'u_42', email: 'jay@example.com', name: 'Jay', attributes: {}, event_count: 0, segments: [] })
    const e = await t.call('POST', '/v1/api.ashx?resource=track', {
      rawBody: '{"key":"u_42","name":"viewed_pricing"}',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(e.status).toBe(201)
    expect(e.body.ok).toBe(true)
    expect(e.body.data).toMatchObject({ key: 'u_42', name: 'viewed_pricing', duplicate: false })
    const got = await t.call('GET', '/v1/api.ashx?resource=visitors&key=u_42', { token: t.readToken })
    expect(got.body.data.event_count).toBe(1)
    expect(got.body.data.events.map((x: { name: string }) => x.name)).toEqual(['viewed_pricing'])
  })
})

describe('visitors: upsert', () => {
  test('201 on create, 200 on update; attributes not sent keep their values, null removes one', async () => {
    const a = await t.call('POST', '/v1/visitors', { body: { key: 'merge', email: 'm@example.com', name: 'M', plan: 'free', seats: 3, tags: ['a', 'b'] } })
    expect(a.status).toBe(201)
    expect(a.body.data.attributes).toEqual({ plan: 'free', seats: 3, tags: ['a', 'b'] })
    t.clock.advance(60_000)
    const b = await t.call('POST', '/v1/visitors', { body: { key: 'merge', plan: 'growth', seats: null, attributes: { beta: true } } })
    expect(b.status).toBe(200)
    expect(b.body.data).toMatchObject({ email: 'm@example.com', name: 'M', attributes: { plan: 'growth', tags: ['a', 'b'], beta: true } })
    expect(b.body.data.attributes).not.toHaveProperty('seats')
    expect(b.body.data.first_seen_utc).toBe(a.body.data.first_seen_utc)
    expect(Date.parse(b.body.data.last_seen_utc) - Date.parse(a.body.data.first_seen_utc)).toBe(60_000)
    const c = await t.call('POST', '/v1/visitors', { body: { key: 'merge', email: null } })
    expect(c.body.data.email).toBeNull()
    expect(c.body.data.name).toBe('M')
  })

  test('user_id is an alias of key, and numbers are taken as text', async () => {
    const r = await t.call('POST', '/v1/visitors', { body: { user_id: 1234, plan: 'pro' } })
    expect(r.status).toBe(201)
    expect(r.body.data.key).toBe('1234')
    expect((await t.call('POST', '/v1/visitors', { body: { key: '1234', plan: 'team' } })).status).toBe(200)
  })

  test('anonymous_id alone makes an anonymous visitor; identifying with a key absorbs its events and attributes', async () => {
    await t.call('POST', '/v1/track', { body: { anonymous_id: 'a-1', name: 'viewed_docs' } })
    await t.call('POST', '/v1/visitors', { body: { anonymous_id: 'a-1', referrer: 'ads', plan: 'anon-plan' } })
    expect((await t.call('GET', '/v1/visitors?key=anon:a-1')).body.data.event_count).toBe(1)
    const r = await t.call('POST', '/v1/visitors', { body: { key: 'u_anon', anonymous_id: 'a-1', plan: 'pro' } })
    expect(r.status).toBe(201)
    expect(r.body.data).toMatchObject({ key: 'u_anon', event_count: 1, attributes: { plan: 'pro', referrer: 'ads' } })
    expectError(await t.call('GET', '/v1/visitors?key=anon:a-1'), 404, 'not_found', 'key')
    const got = await t.call('GET', '/v1/visitors?key=u_anon')
    expect(got.body.data.events.map((e: { name: string }) => e.name)).toEqual(['viewed_docs'])
  })

  const bad: [string, Record<string, unknown>, string][] = [
    ['key missing', { email: 'x@example.com' }, 'key'],
    ['key empty', { key: '' }, 'key'],
    ['key too long', { key: 'k'.repeat(129) }, 'key'],
    ['key an object', { key: { a: 1 } }, 'key'],
    ['email not an email', { key: 'b1', email: 'not-an-email' }, 'email'],
    ['email a number', { key: 'b1', email: 5 }, 'email'],
    ['name too long', { key: 'b1', name: 'n'.repeat(201) }, 'name'],
    ['attribute an object', { key: 'b1', address: { city: 'Oslo' } }, 'address'],
    ['attribute a nested array', { key: 'b1', matrix: [[1]] }, 'matrix'],
    ['attribute string too long', { key: 'b1', bio: 'x'.repeat(1025) }, 'bio'],
    ['attributes object value nested', { key: 'b1', attributes: { deep: { x: 1 } } }, 'attributes.deep'],
    ['attributes not an object', { key: 'b1', attributes: [1, 2] }, 'attributes'],
    ['attribute name too long', { key: 'b1', ['a'.repeat(65)]: 1 }, 'a'.repeat(65)],
  ]
  for (const [label, body, param] of bad) {
    test(`400 when ${label}, naming ${param.slice(0, 20)}`, async () => {
      expectError(await t.call('POST', '/v1/visitors', { body }), 400, 'bad_request', param)
    })
  }

  test('more than 100 attributes is a 400 naming attributes, also when reached by merging', async () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`a${i}`, i]))
    expectError(await t.call('POST', '/v1/visitors', { body: { key: 'many', ...many } }), 400, 'bad_request', 'attributes')
    const hundred = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`a${i}`, i]))
    expect((await t.call('POST', '/v1/visitors', { body: { key: 'many', ...hundred } })).status).toBe(201)
    expectError(await t.call('POST', '/v1/visitors', { body: { key: 'many', one_more: 1 } }), 400, 'bad_request', 'attributes')
    expect((await t.call('POST', '/v1/visitors', { body: { key: 'many', a0: null, one_more: 1 } })).status).toBe(200)
  })

  test('malformed JSON is a 400 naming body; a read token gets 403', async () => {
    expectError(await t.call('POST', '/v1/visitors', { rawBody: '{"key":' }), 400, 'bad_request', 'body')
    expectError(await t.call('POST', '/v1/visitors', { token: t.readToken, body: { key: 'r' } }), 403, 'forbidden')
  })
})

describe('visitors: read, list, erase', () => {
  test('GET key= of an unknown visitor is 404 naming key; the path form works too', async () => {
    expectError(await t.call('GET', '/v1/visitors?key=nobody'), 404, 'not_found', 'key')
    await t.call('POST', '/v1/visitors', { body: { key: 'path/form', name: 'P' } })
    const r = await t.call('GET', `/v1/api.ashx?resource=visitors&id=${encodeURIComponent('path/form')}`)
    expect(r.status).toBe(200)
    expect(r.body.data.name).toBe('P')
  })

  test('events: most recent first, at most 50', async () => {
    for (let i = 0; i < 55; i++) {
      t.clock.advance(1000)
      await t.call('POST', '/v1/track', { body: { key: 'busy', name: `e${i}` } })
    }
    const r = await t.call('GET', '/v1/visitors?key=busy')
    expect(r.body.data.event_count).toBe(55)
    expect(r.body.data.events).toHaveLength(50)
    expect(r.body.data.events[0].name).toBe('e54')
    expect(r.body.data.events[49].name).toBe('e5')
  })

  test('list: newest activity first, cursor pages without gaps or repeats, has_more/next_cursor', async () => {
    const local = await createTestApp()
    try {
      for (let i = 0; i < 7; i++) {
        local.clock.advance(1000)
        await local.call('POST', '/v1/visitors', { body: { key: `v${i}` } })
      }
      local.clock.advance(1000)
      await local.call('POST', '/v1/track', { body: { key: 'v2', name: 'came_back' } })
      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const r: { body: any } = await local.call('GET', `/v1/visitors?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token: local.readToken })
        seen.push(...r.body.data.map((v: { key: string }) => v.key))
        expect(r.body.has_more).toBe(r.body.next_cursor !== null)
        cursor = r.body.next_cursor
        pages++
      } while (cursor)
      expect(pages).toBe(3)
      expect(seen).toEqual(['v2', 'v6', 'v5', 'v4', 'v3', 'v1', 'v0'])
    } finally {
      await local.cleanup()
    }
  })

  test('list filters: email (case-insensitive), updated_since, segment', async () => {
    const local = await createTestApp()
    try {
      await local.call('POST', '/v1/visitors', { body: { key: 'old', email: 'Old@Example.com', plan: 'pro' } })
      local.clock.advance(3_600_000)
      const since = new Date(local.clock.now()).toISOString()
      await local.call('POST', '/v1/visitors', { body: { key: 'new', email: 'new@example.com', plan: 'free' } })
      const byEmail = await local.call('GET', '/v1/visitors?email=old@example.com')
      expect(byEmail.body.data.map((v: { key: string }) => v.key)).toEqual(['old'])
      const bySince = await local.call('GET', `/v1/visitors?updated_since=${since}`)
      expect(bySince.body.data.map((v: { key: string }) => v.key)).toEqual(['new'])
      const seg = await local.call('POST', '/v1/segments', { body: { name: 'pro', rule: { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }] } } })
      const bySeg = await local.call('GET', `/v1/visitors?segment=${seg.body.data.id}`)
      expect(bySeg.body.data.map((v: { key: string }) => v.key)).toEqual(['old'])
    } finally {
      await local.cleanup()
    }
  })

  const badQueries: [string, string][] = [
    ['/v1/visitors?limit=0', 'limit'],
    ['/v1/visitors?limit=101', 'limit'],
    ['/v1/visitors?cursor=garbage', 'cursor'],
    ['/v1/visitors?updated_since=yesterday', 'updated_since'],
    ['/v1/visitors?segment=abc', 'segment'],
  ]
  for (const [path, param] of badQueries) {
    test(`400 naming ${param} for ${path}`, async () => {
      expectError(await t.call('GET', path), 400, 'bad_request', param)
    })
  }

  test('a segment of another site is a 404 naming segment', async () => {
    const seg = await t.call('POST', '/v1/segments', {
      token: t.otherSiteToken,
      body: { name: 'theirs', rule: { any: [{ attribute: 'email', op: 'exists' }] } },
    })
    expectError(await t.call('GET', `/v1/visitors?segment=${seg.body.data.id}`), 404, 'not_found', 'segment')
  })

  test('DELETE key= erases the visitor, attributes, events and memberships; nothing stays queryable', async () => {
    await t.call('POST', '/v1/segments', { body: { name: 'erasable', rule: { all: [{ event: 'secret_event' }] } } })
    await t.call('POST', '/v1/visitors', { body: { key: 'gone', email: 'gone@example.com', ssn: '123' } })
    await t.call('POST', '/v1/track', { body: { key: 'gone', name: 'secret_event', event_id: 'gone-1', properties: { card: '4242' } } })
    const before = await t.call('GET', '/v1/visitors?key=gone')
    expect(before.body.data.segments).toHaveLength(1)
    const visitorId = before.body.data.id
    const d = await t.call('DELETE', '/v1/api.ashx?resource=visitors&key=gone')
    expect(d.status).toBe(200)
    expect(d.body.data).toEqual({ key: 'gone', deleted: true })
    expectError(await t.call('GET', '/v1/visitors?key=gone'), 404, 'not_found', 'key')
    const list = await t.call('GET', '/v1/visitors?email=gone@example.com')
    expect(list.body.data).toEqual([])
    // Nothing is left in storage: no event of the visitor's (nor the one with the card number, by
    // its idempotency id), no segment membership.
    expect(await t.store.visitorEvents.recent(visitorId, 1000)).toEqual([])
    expect(await t.store.segments.memberships(visitorId)).toEqual([])
    expect(await t.store.visitorEvents.byEventId(t.site1, 'gone-1')).toBeNull()
    expectError(await t.call('DELETE', '/v1/visitors?key=gone'), 404, 'not_found', 'key')
  })

  test('DELETE without key is a 400 naming key; a read token gets 403', async () => {
    expectError(await t.call('DELETE', '/v1/visitors'), 400, 'bad_request', 'key')
    await t.call('POST', '/v1/visitors', { body: { key: 'keep' } })
    expectError(await t.call('DELETE', '/v1/visitors?key=keep', { token: t.readToken }), 403, 'forbidden')
  })
})

describe('visitors: cross-site isolation', () => {
  test("another site's token neither sees, lists, updates nor erases this site's visitor", async () => {
    await t.call('POST', '/v1/visitors', { body: { key: 'mine', email: 'mine@example.com' } })
    expectError(await t.call('GET', '/v1/visitors?key=mine', { token: t.otherSiteToken }), 404, 'not_found', 'key')
    const list = await t.call('GET', '/v1/visitors?limit=100', { token: t.otherSiteToken })
    expect(list.body.data.some((v: { key: string }) => v.key === 'mine')).toBe(false)
    expectError(await t.call('DELETE', '/v1/visitors?key=mine', { token: t.otherSiteToken }), 404, 'not_found', 'key')
    const theirs = await t.call('POST', '/v1/visitors', { token: t.otherSiteToken, body: { key: 'mine', email: 'other@example.com' } })
    expect(theirs.status).toBe(201)
    const still = await t.call('GET', '/v1/visitors?key=mine')
    expect(still.body.data.email).toBe('mine@example.com')
  })
})
