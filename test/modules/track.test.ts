/** track: single and batch events, idempotent event_id, timestamp and properties rules, visitor counters. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { openStore } from '../../src/db/open-store'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(() => t.cleanup())

describe('track: one event', () => {
  test('an unknown key creates the visitor; the event moves last_seen_utc and event_count', async () => {
    const r = await t.call('POST', '/v1/track', {
      body: { key: 'new_by_track', name: 'signed_up', properties: { plan: 'pro', seats: 3, beta: true, tags: ['a'] } },
    })
    expect(r.status).toBe(201)
    expect(r.body.data).toMatchObject({
      id: expect.any(Number),
      event_id: null,
      key: 'new_by_track',
      name: 'signed_up',
      properties: { plan: 'pro', seats: 3, beta: true, tags: ['a'] },
      duplicate: false,
    })
    t.clock.advance(5000)
    await t.call('POST', '/v1/track', { body: { key: 'new_by_track', name: 'viewed_pricing' } })
    const v = await t.call('GET', '/v1/visitors?key=new_by_track')
    expect(v.body.data.event_count).toBe(2)
    expect(v.body.data.last_seen_utc).toBe(new Date(t.clock.now()).toISOString())
    expect(Date.parse(v.body.data.last_seen_utc) - Date.parse(v.body.data.first_seen_utc)).toBe(5000)
  })

  test('a null property is kept as null', async () => {
    const r = await t.call('POST', '/v1/track', { body: { key: 'nulls', name: 'x', properties: { coupon: null, n: 1 } } })
    expect(r.status).toBe(201)
    expect(r.body.data.properties).toEqual({ coupon: null, n: 1 })
    expect((await t.call('GET', '/v1/visitors?key=nulls')).body.data.events[0].properties).toEqual({ coupon: null, n: 1 })
  })

  test('event_id makes it idempotent: a repeat answers 200 with the first event and stores nothing', async () => {
    const first = await t.call('POST', '/v1/track', { body: { key: 'idem', name: 'paid', event_id: 'evt-1', properties: { amount: 10 } } })
    expect(first.status).toBe(201)
    const again = await t.call('POST', '/v1/track', { body: { key: 'idem', name: 'paid', event_id: 'evt-1', properties: { amount: 99 } } })
    expect(again.status).toBe(200)
    expect(again.body.data).toEqual({ ...first.body.data, duplicate: true })
    const v = await t.call('GET', '/v1/visitors?key=idem')
    expect(v.body.data.event_count).toBe(1)
    expect(v.body.data.events).toHaveLength(1)
  })

  test('the same event_id on another site is a different event', async () => {
    await t.call('POST', '/v1/track', { body: { key: 'x', name: 'paid', event_id: 'shared-id' } })
    const other = await t.call('POST', '/v1/track', { token: t.otherSiteToken, body: { key: 'x', name: 'paid', event_id: 'shared-id' } })
    expect(other.status).toBe(201)
    expect(other.body.data.duplicate).toBe(false)
  })

  test('timestamp: a past one is kept, up to 1 hour ahead is accepted, further is a 400', async () => {
    const past = '2026-01-02T03:04:05.000Z'
    const r = await t.call('POST', '/v1/track', { body: { key: 'ts', name: 'old', timestamp: past } })
    expect(r.body.data.timestamp_utc).toBe(past)
    expect(r.body.data.received_utc).toBe(new Date(t.clock.now()).toISOString())
    const soon = new Date(t.clock.now() + 3_600_000).toISOString()
    expect((await t.call('POST', '/v1/track', { body: { key: 'ts', name: 'soon', timestamp: soon } })).status).toBe(201)
    const late = new Date(t.clock.now() + 3_600_001).toISOString()
    expectError(await t.call('POST', '/v1/track', { body: { key: 'ts', name: 'late', timestamp: late } }), 400, 'bad_request', 'timestamp')
    const v = await t.call('GET', '/v1/visitors?key=ts')
    expect(v.body.data.event_count).toBe(2)
  })

  const bad: [string, Record<string, unknown>, string][] = [
    ['key missing', { name: 'x' }, 'key'],
    ['key too long', { key: 'k'.repeat(129), name: 'x' }, 'key'],
    ['name missing', { key: 'k' }, 'name'],
    ['name empty', { key: 'k', name: '' }, 'name'],
    ['name too long', { key: 'k', name: 'n'.repeat(129) }, 'name'],
    ['properties not an object', { key: 'k', name: 'x', properties: [1] }, 'properties'],
    ['properties nested', { key: 'k', name: 'x', properties: { a: { b: 1 } } }, 'properties.a'],
    [
      'properties over 4 KB',
      { key: 'k', name: 'x', properties: { a: 'x'.repeat(1000), b: 'x'.repeat(1000), c: 'x'.repeat(1000), d: 'x'.repeat(1000), e: 'x'.repeat(200) } },
      'properties',
    ],
    ['timestamp not ISO', { key: 'k', name: 'x', timestamp: 'yesterday' }, 'timestamp'],
    ['timestamp a number', { key: 'k', name: 'x', timestamp: 1700000000 }, 'timestamp'],
    ['event_id too long', { key: 'k', name: 'x', event_id: 'e'.repeat(129) }, 'event_id'],
    ['event_id a number', { key: 'k', name: 'x', event_id: 5 }, 'event_id'],
    ['unknown field', { key: 'k', name: 'x', propertes: {} }, 'propertes'],
    ['events next to an event', { key: 'k', name: 'x', events: [] }, 'key'],
    ['events empty', { events: [] }, 'events'],
    ['events over 100', { events: Array.from({ length: 101 }, () => ({ key: 'k', name: 'x' })) }, 'events'],
  ]
  for (const [label, body, param] of bad) {
    test(`400 when ${label}, naming ${param}`, async () => {
      expectError(await t.call('POST', '/v1/track', { body }), 400, 'bad_request', param)
    })
  }

  test('properties of exactly 4 KB are accepted, one byte more is a 400', async () => {
    const properties = { a: 'x'.repeat(1000), b: 'x'.repeat(1000), c: 'x'.repeat(1000), d: 'x'.repeat(1000), e: '' }
    properties.e = 'x'.repeat(4096 - Buffer.byteLength(JSON.stringify(properties)))
    expect((await t.call('POST', '/v1/track', { body: { key: 'k4', name: 'x', properties } })).status).toBe(201)
    properties.e += 'x'
    expectError(await t.call('POST', '/v1/track', { body: { key: 'k4', name: 'x', properties } }), 400, 'bad_request', 'properties')
  })

  test('a read token gets 403; no token 401', async () => {
    expectError(await t.call('POST', '/v1/track', { token: t.readToken, body: { key: 'k', name: 'x' } }), 403, 'forbidden')
    expectError(await t.call('POST', '/v1/track', { token: null, body: { key: 'k', name: 'x' } }), 401, 'unauthorized')
  })
})

describe('track: batch', () => {
  test('stores each valid event and answers per item; one bad event does not sink the rest', async () => {
    const r = await t.call('POST', '/v1/track', {
      body: {
        events: [
          { key: 'b1', name: 'one', event_id: 'batch-1' },
          { key: 'b1', name: '' },
          { key: 'b2', name: 'two', timestamp: new Date(t.clock.now() + 7_200_000).toISOString() },
          { key: 'b2', name: 'three', properties: { ok: true } },
          { key: 'b1', name: 'one again', event_id: 'batch-1' },
          'not an object',
        ],
      },
    })
    expect(r.status).toBe(200)
    const d = r.body.data
    expect({ stored: d.stored, duplicates: d.duplicates, failed: d.failed }).toEqual({ stored: 2, duplicates: 1, failed: 3 })
    expect(d.results.map((x: { index: number; ok: boolean }) => [x.index, x.ok])).toEqual([
      [0, true],
      [1, false],
      [2, false],
      [3, true],
      [4, true],
      [5, false],
    ])
    expect(d.results[1].error).toMatchObject({ code: 'bad_request', param: 'events.1.name' })
    expect(d.results[2].error).toMatchObject({ code: 'bad_request', param: 'events.2.timestamp' })
    expect(d.results[4]).toEqual({ index: 4, ok: true, id: d.results[0].id, event_id: 'batch-1', duplicate: true })
    expect((await t.call('GET', '/v1/visitors?key=b1')).body.data.event_count).toBe(1)
    expect((await t.call('GET', '/v1/visitors?key=b2')).body.data.event_count).toBe(1)
  })

  test('a replayed batch stores nothing new', async () => {
    const events = [
      { key: 'rb', name: 'a', event_id: 'rb-1' },
      { key: 'rb', name: 'b', event_id: 'rb-2' },
    ]
    await t.call('POST', '/v1/track', { body: { events } })
    const again = await t.call('POST', '/v1/track', { body: { events } })
    expect(again.body.data).toMatchObject({ stored: 0, duplicates: 2, failed: 0 })
    expect((await t.call('GET', '/v1/visitors?key=rb')).body.data.event_count).toBe(2)
  })
})

describe('track: durability under concurrency (group commit)', () => {
  test('concurrent events are all stored, and each is on disk when its response arrives', async () => {
    t.clock.advance(60_000) // a full rate-limit bucket for the burst
    // Another connection to the same database (another process, or another instance).
    const reader = await openStore(t.config)
    try {
      const count = async (eventId: string) => ((await reader.visitorEvents.byEventId(t.site1, eventId)) ? 1 : 0)
      const results = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const r = await t.call('POST', '/v1/track', { body: { key: `c${i % 5}`, name: 'burst', event_id: `burst-${i}` } })
          // Another connection sees the row as soon as the response exists: it was committed first.
          return { status: r.status, visible: await count(`burst-${i}`) }
        }),
      )
      expect(results.filter((r) => r.status !== 201 || r.visible !== 1)).toEqual([])
      const v = await t.call('GET', '/v1/visitors?key=c0')
      expect(v.body.data.event_count).toBe(8)
    } finally {
      await reader.close()
    }
  })
})
