/**
 * GET /v1/events: every event stored (subscribed to or not), newest or oldest first, filters,
 * cursor and starting_after, bad params, tenant isolation, scopes, URL forms, and the stored body
 * served byte for byte inside an envelope like every other one.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { enqueueEvent } from '../../../src/webhooks/enqueue'
import { siteKeyOf, Visitor } from '../../chat/harness'
import { createTestApp, expectError, type TestApp } from '../../helpers'

let t: TestApp
/** Site 1's events in creation order (oldest first), as enqueued below. */
const ids: string[] = []
const typeOf = new Map<string, string>()
/** Site 2's one event. */
let otherSiteEvent: string
let startMs: number

async function emit(siteId: number, type: 'handoff' | 'feedback' | 'ping', payload: Record<string, unknown> = {}): Promise<string> {
  const { eventId } = await t.store.transaction((tx) => enqueueEvent(tx, t.clock, { siteId, type, payload }))
  return eventId
}

/** The ids of a list answer. */
const idsOf = (r: { body: { data: { id: string }[] } }) => r.body.data.map((e) => e.id)

beforeAll(async () => {
  t = await createTestApp()
  startMs = t.clock.now()
  // Nine events a second apart, the last three in the same millisecond (ordered by id then).
  const types = ['handoff', 'feedback', 'ping', 'handoff', 'feedback', 'handoff', 'ping', 'feedback', 'handoff'] as const
  for (const [i, type] of types.entries()) {
    if (i < 7) t.clock.advance(1000)
    const id = await emit(t.site1, type, { n: i })
    ids.push(id)
    typeOf.set(id, type)
  }
  otherSiteEvent = await emit(t.site2, 'handoff', { secret: 'site two' })
})
afterAll(() => t.cleanup())
// A full rate-limit bucket for every test (60 requests a minute on the free plan).
beforeEach(() => t.clock.advance(60_000))

describe('listing', () => {
  test('newest first by default, every event with its body, no subscription needed', async () => {
    expect(await t.store.webhooks.listSubscriptions(t.site1)).toEqual([])
    const r = await t.call('GET', '/v1/events', { token: t.readToken })
    expect(r.status).toBe(200)
    expect(idsOf(r)).toEqual([...ids].reverse())
    expect(r.body).toMatchObject({ ok: true, has_more: false, next_cursor: null })
    expect(r.body.data[0]).toEqual({ id: ids[8], event: 'handoff', n: 8, created_utc: new Date(startMs + 7000).toISOString() })
  })

  test('order=asc is oldest first; order=desc the default', async () => {
    expect(idsOf(await t.call('GET', '/v1/events?order=asc'))).toEqual(ids)
    expect(idsOf(await t.call('GET', '/v1/events?order=desc'))).toEqual([...ids].reverse())
  })

  test('type= keeps one type, in either order', async () => {
    const handoffs = ids.filter((id) => typeOf.get(id) === 'handoff')
    expect(idsOf(await t.call('GET', '/v1/events?type=handoff'))).toEqual([...handoffs].reverse())
    expect(idsOf(await t.call('GET', '/v1/events?type=handoff&order=asc'))).toEqual(handoffs)
    const pings = await t.call('GET', '/v1/events?type=ping')
    expect(pings.body.data.map((e: { event: string }) => e.event)).toEqual(['ping', 'ping'])
  })

  test('since= keeps events at or after the instant (ISO-8601 UTC or with an offset)', async () => {
    const third = new Date(startMs + 3000).toISOString()
    expect(idsOf(await t.call('GET', `/v1/events?order=asc&since=${third}`))).toEqual(ids.slice(2))
    expect(idsOf(await t.call('GET', `/v1/events?since=${third}`))).toEqual(ids.slice(2).reverse())
    // The same instant written with an offset.
    const offset = new Date(startMs + 3000 + 2 * 3600_000).toISOString().replace('Z', '+02:00')
    expect(idsOf(await t.call('GET', `/v1/events?order=asc&since=${encodeURIComponent(offset)}`))).toEqual(ids.slice(2))
    expect(idsOf(await t.call('GET', `/v1/events?since=${new Date(startMs + 60_000).toISOString()}`))).toEqual([])
    expect(idsOf(await t.call('GET', `/v1/events?type=feedback&order=asc&since=${third}`))).toEqual(ids.slice(2).filter((id) => typeOf.get(id) === 'feedback'))
  })

  test('limit and cursor page through everything, each event once, in both orders', async () => {
    for (const order of ['desc', 'asc']) {
      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const page: any = await t.call('GET', `/v1/events?order=${order}&limit=2${cursor ? `&cursor=${cursor}` : ''}`)
        expect(page.status).toBe(200)
        expect(page.body.data.length).toBeLessThanOrEqual(2)
        expect(page.body.has_more).toBe(page.body.next_cursor !== null)
        seen.push(...idsOf(page))
        cursor = page.body.next_cursor
        pages++
      } while (cursor)
      expect(seen).toEqual(order === 'asc' ? ids : [...ids].reverse())
      expect(pages).toBe(5)
    }
    // Filters carry on with the cursor.
    const first = await t.call('GET', '/v1/events?type=handoff&limit=2')
    const next = await t.call('GET', `/v1/events?type=handoff&limit=2&cursor=${first.body.next_cursor}`)
    const handoffs = ids.filter((id) => typeOf.get(id) === 'handoff').reverse()
    expect([...idsOf(first), ...idsOf(next)]).toEqual(handoffs)
    expect(next.body.has_more).toBe(false)
  })

  test('starting_after resumes after the last event seen: newer with order=asc, older by default', async () => {
    expect(idsOf(await t.call('GET', `/v1/events?order=asc&starting_after=${ids[2]}`))).toEqual(ids.slice(3))
    expect(idsOf(await t.call('GET', `/v1/events?starting_after=${ids[2]}`))).toEqual(ids.slice(0, 2).reverse())
    // Inside one millisecond the id breaks the tie.
    expect(idsOf(await t.call('GET', `/v1/events?order=asc&starting_after=${ids[6]}`))).toEqual(ids.slice(7))
    expect(idsOf(await t.call('GET', `/v1/events?order=asc&starting_after=${ids[8]}`))).toEqual([])
    // With limit: the page's last id resumes the next page.
    const page = await t.call('GET', `/v1/events?order=asc&limit=3&starting_after=${ids[0]}`)
    expect(idsOf(page)).toEqual(ids.slice(1, 4))
    expect(page.body.has_more).toBe(true)
    // since and starting_after together: the later bound wins.
    const late = new Date(startMs + 5000).toISOString()
    expect(idsOf(await t.call('GET', `/v1/events?order=asc&since=${late}&starting_after=${ids[1]}`))).toEqual(ids.slice(4))
    expect(idsOf(await t.call('GET', `/v1/events?order=asc&since=${new Date(startMs).toISOString()}&starting_after=${ids[5]}`))).toEqual(ids.slice(6))
  })

  test('a consumer polling with order=asc&starting_after gets each new event once', async () => {
    const app = await createTestApp()
    try {
      const emitted: string[] = []
      const received: string[] = []
      let last: string | null = null
      const poll = async () => {
        const r = await app.call('GET', `/v1/events?order=asc&limit=2${last ? `&starting_after=${last}` : ''}`)
        for (const e of r.body.data) received.push(e.id)
        last = received.at(-1) ?? null
        return r.body.has_more as boolean
      }
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i <= round; i++) {
          app.clock.advance(round % 2 === 0 ? 0 : 250)
          emitted.push((await app.store.transaction((tx) => enqueueEvent(tx, app.clock, { siteId: app.site1, type: 'ping', payload: {} }))).eventId)
        }
        while (await poll()) {}
      }
      expect(received).toEqual(emitted)
    } finally {
      await app.cleanup()
    }
  })

  test('an event of a handoff with no subscription is in the feed and readable by id', async () => {
    const app = await createTestApp()
    try {
      await app.call('POST', '/v1/visitors', { body: { key: 'u_7', name: 'Zoë "Z" Ünal', email: 'zoe@example.com' } })
      const v = new Visitor(app, await siteKeyOf(app, app.site1), { visitor_key: 'u_7' }, '10.7.7.7')
      const sid = await v.open()
      await v.call('POST', `/sessions/${sid}/handoff`)
      const list = await app.call('GET', '/v1/events', { token: app.readToken })
      expect(list.body.data).toHaveLength(1)
      const event = list.body.data[0]
      expect(event).toMatchObject({
        event: 'handoff',
        session_id: sid,
        visitor: { key: 'u_7', name: 'Zoë "Z" Ünal', email: 'zoe@example.com' },
        handoff_reason: 'visitor_requested',
      })
      expect(event.id).toMatch(/^evt_[0-9a-f]{32}$/)
      const one = await app.call('GET', `/v1/events/${event.id}`, { token: app.readToken })
      expect(one.status).toBe(200)
      expect(one.body.data).toEqual(event)
      expect((await app.store.webhooks.queueStats(app.clock.now())).depth).toBe(0)
    } finally {
      await app.cleanup()
    }
  })
})

describe('bad parameters answer 400 naming the param', () => {
  const cases: [string, string][] = [
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1e2', 'limit'],
    ['order=sideways', 'order'],
    ['type=chat', 'type'],
    ['type=HANDOFF', 'type'],
    ['since=yesterday', 'since'],
    ['since=2026-13-45T00:00:00Z', 'since'],
    ['cursor=bm9wZQ', 'cursor'],
    ['starting_after=dlv_0123', 'starting_after'],
    ['starting_after=evt_xyz', 'starting_after'],
    [`starting_after=evt_${'0'.repeat(40)}`, 'starting_after'],
  ]
  for (const [query, param] of cases) {
    test(query, async () => {
      expectError(await t.call('GET', `/v1/events?${query}`), 400, 'bad_request', param)
    })
  }

  test('cursor and starting_after together', async () => {
    const first = await t.call('GET', '/v1/events?limit=1')
    expectError(await t.call('GET', `/v1/events?cursor=${first.body.next_cursor}&starting_after=${ids[0]}`), 400, 'bad_request', 'starting_after')
  })
})

describe('one event', () => {
  test('GET /v1/events/{id} answers the event; the legacy form too', async () => {
    const id = ids[3] as string
    const r = await t.call('GET', `/v1/events/${id}`, { token: t.readToken })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({
      ok: true,
      data: { id, event: 'handoff', n: 3, created_utc: new Date(startMs + 4000).toISOString() },
      request_id: expect.any(String),
    })
    const legacy = await t.call('GET', `/v1/api.ashx?resource=events&id=${id}`, { token: t.readToken })
    expect(legacy.body.data).toEqual(r.body.data)
  })

  test('an unknown id, or malformed, is a 404 naming id', async () => {
    expectError(await t.call('GET', `/v1/events/evt_${'0'.repeat(32)}`), 404, 'not_found', 'id')
    expectError(await t.call('GET', '/v1/events/evt_nope'), 404, 'not_found', 'id')
    expectError(await t.call('GET', `/v1/api.ashx?resource=events&id=${ids[0]}x`), 404, 'not_found', 'id')
  })
})

describe('tenant isolation', () => {
  test("another site's token sees none of this site's events, by list or by id", async () => {
    const list = await t.call('GET', '/v1/events', { token: t.otherSiteToken })
    expect(idsOf(list)).toEqual([otherSiteEvent])
    for (const id of ids) expectError(await t.call('GET', `/v1/events/${id}`, { token: t.otherSiteToken }), 404, 'not_found', 'id')
    expectError(await t.call('GET', `/v1/events/${otherSiteEvent}`), 404, 'not_found', 'id')
    expect(idsOf(await t.call('GET', '/v1/events?limit=100'))).not.toContain(otherSiteEvent)
  })

  test("starting_after with another site's event id places the page by its time only", async () => {
    const r = await t.call('GET', `/v1/events?order=asc&starting_after=${otherSiteEvent}`)
    expect(r.status).toBe(200)
    expect(idsOf(r)).not.toContain(otherSiteEvent)
    const r2 = await t.call('GET', `/v1/events?starting_after=${otherSiteEvent}`)
    expect(idsOf(r2)).toEqual([...ids].reverse())
  })
})

describe('authentication and scopes', () => {
  test('a read token lists and reads; ?token= works too', async () => {
    expect((await t.call('GET', '/v1/events', { token: t.readToken })).status).toBe(200)
    expect((await t.call('GET', `/v1/events?token=${t.readToken}&limit=1`, { token: null })).body.data).toHaveLength(1)
    expect((await t.call('GET', `/v1/events/${ids[0]}?token=${t.readToken}`, { token: null })).status).toBe(200)
  })

  test('no token or a wrong one is a 401; a publishable key a 403', async () => {
    expectError(await t.call('GET', '/v1/events', { token: null }), 401, 'unauthorized')
    expectError(await t.call('GET', '/v1/events', { token: `mlc_${'x'.repeat(43)}` }), 401, 'unauthorized')
    expectError(await t.call('GET', `/v1/events/${ids[0]}`, { token: 'nope' }), 401, 'unauthorized')
    const pk = await siteKeyOf(t, t.site1)
    expectError(await t.call('GET', '/v1/events', { token: pk }), 403, 'forbidden')
    expectError(await t.call('GET', `/v1/events/${ids[0]}`, { token: pk }), 403, 'forbidden')
  })

  test('the feed is read-only: other methods answer 405 with Allow', async () => {
    const r = await t.call('POST', '/v1/events', { body: {} })
    expectError(r, 405, 'method_not_allowed')
    expect(r.headers.get('allow')).toContain('GET')
    expectError(await t.call('DELETE', `/v1/events/${ids[0]}`), 405, 'method_not_allowed')
  })
})

describe('URL forms and the envelope', () => {
  test('/v1/events, /v1/events/ and api.ashx?resource=events answer the same list', async () => {
    const expected = [...ids].reverse()
    for (const path of ['/v1/events', '/v1/events/', '/v1/api.ashx?resource=events', '/v1/api.ashx?resource=events&order=desc']) {
      const r = await t.call('GET', path)
      expect([path, r.status]).toEqual([path, 200])
      expect(idsOf(r)).toEqual(expected)
    }
    expect(idsOf(await t.call('GET', '/v1/api.ashx?resource=events&order=asc&limit=2'))).toEqual(ids.slice(0, 2))
  })

  test('the envelope and headers are those of every other list: request id, CORS, rate limit, content type', async () => {
    const events = await t.request('GET', '/v1/events?limit=2')
    const deliveries = await t.request('GET', '/v1/webhook_deliveries?limit=2')
    const eventsBody = await events.json()
    const deliveriesBody = await deliveries.json()
    expect(Object.keys(eventsBody)).toEqual(Object.keys(deliveriesBody))
    expect([...events.headers.keys()].sort()).toEqual([...deliveries.headers.keys()].sort())
    expect(events.headers.get('content-type')).toBe(deliveries.headers.get('content-type') as string)
    expect(events.headers.get('x-mlc-request-id')).toBe(eventsBody.request_id)
    expect(events.headers.get('x-ratelimit-limit')).toBe('60')
    expect(Number(events.headers.get('x-ratelimit-remaining'))).toBe(Number(deliveries.headers.get('x-ratelimit-remaining')) + 1)
    const one = await t.request('GET', `/v1/events/${ids[0]}`)
    const tag = await t.request('GET', '/v1/whoami')
    expect([...one.headers.keys()].sort()).toEqual([...tag.headers.keys()].sort())
    expect(one.headers.get('x-mlc-request-id')).toBe((await one.json()).request_id)
  })

  test('conditional reads: the feed and one event carry an ETag; If-None-Match with it answers 304 without a body', async () => {
    for (const path of ['/v1/events?limit=2', `/v1/events/${ids[0]}`]) {
      const first = await t.request('GET', path)
      const etag = first.headers.get('etag') as string
      expect(etag).toMatch(/^"[0-9a-f]{16}"$/)
      const again = await t.request('GET', path, { headers: { 'if-none-match': etag } })
      expect([path, again.status, await again.text()]).toEqual([path, 304, ''])
      expect(again.headers.get('etag')).toBe(etag)
      expect(again.headers.get('x-ratelimit-remaining')).toBe(first.headers.get('x-ratelimit-remaining'))
    }
  })

  test('the stored body is sent byte for byte, not parsed and written again', async () => {
    // A body as another writer may have stored it: escapes, number forms and spacing that a
    // JSON.parse + JSON.stringify round trip would all rewrite.
    const app = await createTestApp()
    try {
      const id = `evt_${Date.UTC(2026, 10, 25, 12).toString(16).padStart(12, '0')}7000800000000000abcd`
      const body = `{"id":"${id}","event":"ping", "amount":1.50,"big":1E3,"s":"caf\\u00e9 \\/ \u2028","created_utc":"2026-11-25T12:00:00.000Z"}`
      await app.store.webhooks.insertEvent(id, app.site1, 'ping', body, app.clock.now())
      const list = await (await app.request('GET', '/v1/events')).text()
      expect(list).toStartWith(`{"ok":true,"data":[${body}],"has_more":false,"next_cursor":null,"request_id":"`)
      const one = await (await app.request('GET', `/v1/events/${id}`)).text()
      expect(one).toStartWith(`{"ok":true,"data":${body},"request_id":"`)
      expect(JSON.parse(one).data).toEqual({ id, event: 'ping', amount: 1.5, big: 1000, s: 'café / \u2028', created_utc: '2026-11-25T12:00:00.000Z' })
    } finally {
      await app.cleanup()
    }
  })
})

describe('the OpenAPI document', () => {
  test('describes both routes with their statuses, tag, security and the event schema', async () => {
    const doc = await (await t.app.handle(new Request('http://localhost/v1/openapi.json'))).json()
    const list = (doc.paths['/v1/events'] ?? doc.paths['/v1/events/']).get
    const one = doc.paths['/v1/events/{id}'].get
    expect(Object.keys(list.responses).sort()).toEqual(['200', '304', '400', '401', '403', '429'])
    expect(Object.keys(one.responses).sort()).toEqual(['200', '304', '401', '403', '404', '429'])
    for (const op of [list, one]) {
      expect(op.tags).toEqual(['webhooks'])
      expect(op.security).toEqual([{ bearer: [] }])
      expect(op.summary).toBeTruthy()
    }
    const item = list.responses['200'].content['application/json'].schema.properties.data.items
    expect(item.additionalProperties).toBe(true)
    expect(item.required.sort()).toEqual(['created_utc', 'event', 'id'])
    const params = list.parameters.map((p: { name: string }) => p.name)
    expect(params).toEqual(expect.arrayContaining(['limit', 'cursor', 'type', 'since', 'starting_after', 'order']))
    expect(one.responses['200'].content['application/json'].schema.properties.data.additionalProperties).toBe(true)
  })
})
