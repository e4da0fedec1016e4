/** webhook_deliveries: the log (filters, pagination, attempt detail) and replay with ?action=retry. */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { enqueueEvent } from '../../src/webhooks/enqueue'
import { createTestApp, expectError, type TestApp } from '../helpers'
import { createWebhookTestApp, type Receiver, startReceiver, until, type WebhookTestApp } from '../webhooks/harness'

describe('webhook_deliveries log (outbox only, no worker)', () => {
  let t: TestApp
  let subA: number
  let subB: number
  beforeEach(async () => {
    t = await createTestApp({ MLC_WEBHOOK_ALLOW_PRIVATE: '1' })
    subA = (await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'http://127.0.0.1:9/a', events: ['*'] } })).body.data.id
    subB = (await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'http://127.0.0.1:9/b', events: ['feedback'] } })).body.data.id
    for (let i = 0; i < 3; i++) {
      t.clock.advance(1000)
      await t.store.transaction((tx) => enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'handoff', payload: { n: i } }))
      t.clock.advance(1000)
      await t.store.transaction((tx) => enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'feedback', payload: { n: i } }))
    }
  })
  afterEach(() => t.cleanup())

  test('lists newest first with every field, and pages with a cursor', async () => {
    const all = await t.call('GET', '/v1/webhook_deliveries')
    expect(all.status).toBe(200)
    expect(all.body.data).toHaveLength(9)
    const first = all.body.data[0]
    expect(Object.keys(first).sort()).toEqual(
      [
        'attempts',
        'created_utc',
        'event',
        'event_id',
        'id',
        'last_attempt_utc',
        'last_error',
        'last_status_code',
        'next_attempt_utc',
        'status',
        'subscription_id',
      ].sort(),
    )
    expect(first).toMatchObject({ event: 'feedback', status: 'pending', attempts: 0, next_attempt_utc: first.created_utc })
    const created = all.body.data.map((d: any) => Date.parse(d.created_utc))
    expect([...created].sort((a, b) => b - a)).toEqual(created)

    const seen: string[] = []
    let cursor: string | null = null
    do {
      const q: string = `/v1/webhook_deliveries?limit=4${cursor ? `&cursor=${cursor}` : ''}`
      const page: any = await t.call('GET', q)
      seen.push(...page.body.data.map((d: any) => d.id))
      expect(page.body.has_more).toBe(page.body.next_cursor !== null)
      cursor = page.body.next_cursor
    } while (cursor)
    expect(seen).toEqual(all.body.data.map((d: any) => d.id))
  })

  test('filters by subscription_id, event and status (legacy URL form too)', async () => {
    const bySub = await t.call('GET', `/v1/api.ashx?resource=webhook_deliveries&subscription_id=${subB}`)
    expect(bySub.body.data).toHaveLength(3)
    expect(bySub.body.data.every((d: any) => d.subscription_id === subB && d.event === 'feedback')).toBe(true)
    const handoffs = await t.call('GET', '/v1/webhook_deliveries?event=handoff')
    expect(handoffs.body.data).toHaveLength(3)
    expect(handoffs.body.data.every((d: any) => d.subscription_id === subA)).toBe(true)
    expect((await t.call('GET', '/v1/webhook_deliveries?status=pending')).body.data).toHaveLength(9)
    expect((await t.call('GET', '/v1/webhook_deliveries?status=dead')).body.data).toHaveLength(0)
  })

  test('bad filters and cursors are 400 naming the param; other sites see nothing', async () => {
    expectError(await t.call('GET', '/v1/webhook_deliveries?status=lost'), 400, 'bad_request', 'status')
    expectError(await t.call('GET', '/v1/webhook_deliveries?event=signup'), 400, 'bad_request', 'event')
    expectError(await t.call('GET', '/v1/webhook_deliveries?subscription_id=abc'), 400, 'bad_request', 'subscription_id')
    expectError(await t.call('GET', '/v1/webhook_deliveries?cursor=bogus'), 400, 'bad_request', 'cursor')
    expectError(await t.call('GET', '/v1/webhook_deliveries?limit=0'), 400, 'bad_request', 'limit')
    expectError(await t.call('GET', '/v1/webhook_deliveries/nope'), 400, 'bad_request', 'id')
    const id = (await t.call('GET', '/v1/webhook_deliveries')).body.data[0].id
    expect((await t.call('GET', '/v1/webhook_deliveries', { token: t.otherSiteToken })).body.data).toEqual([])
    expectError(await t.call('GET', `/v1/webhook_deliveries/${id}`, { token: t.otherSiteToken }), 404, 'not_found', 'id')
    expectError(await t.call('POST', `/v1/webhook_deliveries/${id}?action=retry`, { token: t.otherSiteToken }), 404, 'not_found', 'id')
    expectError(await t.call('POST', `/v1/webhook_deliveries/${id}?action=retry`, { token: t.readToken }), 403, 'forbidden')
    expectError(await t.call('POST', `/v1/webhook_deliveries/${id}`), 400, 'bad_request', 'action')
    expectError(await t.call('POST', '/v1/webhook_deliveries?action=retry'), 400, 'bad_request', 'id')
  })

  test('one delivery has an (empty) attempt_log', async () => {
    const id = (await t.call('GET', '/v1/webhook_deliveries')).body.data[0].id
    const res = await t.call('GET', `/v1/api.ashx?resource=webhook_deliveries&id=${id}`)
    expect(res.status).toBe(200)
    expect(res.body.data).toMatchObject({ id, attempt_log: [] })
  })

  test('deactivating a subscription dead-letters its queue; deleting one removes its deliveries', async () => {
    await t.call('PATCH', `/v1/webhook_subscriptions/${subB}`, { body: { active: false } })
    const dead = await t.call('GET', `/v1/webhook_deliveries?subscription_id=${subB}`)
    expect(dead.body.data.map((d: any) => [d.status, d.next_attempt_utc, d.last_error])).toEqual(Array(3).fill(['dead', null, 'subscription deactivated']))
    // Replaying needs an active subscription.
    expectError(await t.call('POST', `/v1/webhook_deliveries/${dead.body.data[0].id}?action=retry`), 409, 'conflict', 'id')
    await t.call('DELETE', `/v1/webhook_subscriptions/${subA}`)
    expect((await t.call('GET', `/v1/webhook_deliveries?subscription_id=${subA}`)).body.data).toEqual([])
    expect((await t.app.webhooks.status()).queue_depth).toBe(0)
  })
})

describe('retry through the real worker', () => {
  let t: WebhookTestApp
  let rx: Receiver
  beforeEach(async () => {
    t = await createWebhookTestApp({ MLC_WEBHOOK_BACKOFF: '1' })
    rx = startReceiver()
  })
  afterEach(async () => {
    rx.stop()
    await t.close()
  })

  test('a dead delivery is sent again at once with the same event id; the log keeps every attempt', async () => {
    let up = false
    rx.respond(() => new Response(up ? 'thanks' : 'down', { status: up ? 200 : 500 }))
    const sub = (await t.call('POST', '/v1/webhook_subscriptions', { body: { url: rx.url, events: ['handoff'] } })).body.data
    const { eventId, deliveryIds } = await t.store.transaction((tx) =>
      enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'handoff', payload: { session_id: 's_9', visitor: { name: 'Jay' } } }),
    )
    t.app.webhooks.wake()
    const id = deliveryIds[0] as string
    // Move the clock only once attempt 1 is recorded (its retry is then due at +1 s of the old time).
    await until(async () => (await t.store.webhooks.getDelivery(t.site1, id))?.status === 'failed', 3000, 'attempt 1')
    t.clock.advance(1000)
    t.app.webhooks.wake()
    await rx.waitFor(2)
    await until(async () => (await t.store.webhooks.getDelivery(t.site1, id))?.status === 'dead', 3000, 'dead-letter')
    const dead = await t.call('GET', `/v1/webhook_deliveries/${id}`)
    expect(dead.body.data).toMatchObject({ status: 'dead', attempts: 2, next_attempt_utc: null, last_status_code: 500 })

    up = true
    const retried = await t.call('POST', `/v1/webhook_deliveries/${id}?action=retry`)
    expect(retried.status).toBe(200)
    expect(retried.body.data).toMatchObject({ id, status: 'pending', next_attempt_utc: '2026-11-25T12:00:01.000Z' })
    await rx.waitFor(3)
    const done = await until(async () => (await t.store.webhooks.getDelivery(t.site1, id))?.status === 'succeeded', 3000)
    expect(done).toBe(true)
    const detail = (await t.call('GET', `/v1/webhook_deliveries/${id}`)).body.data
    expect(detail).toMatchObject({ status: 'succeeded', attempts: 3, event_id: eventId, subscription_id: sub.id })
    expect(detail.attempt_log.map((a: any) => [a.number, a.status_code, a.error, a.response_body])).toEqual([
      [1, 500, 'http', 'down'],
      [2, 500, 'http', 'down'],
      [3, 200, null, 'thanks'],
    ])
    const bodies = new Set(rx.received.map((r) => r.body))
    expect(bodies.size).toBe(1)
    expect(JSON.parse([...bodies][0] as string)).toEqual({
      id: eventId,
      event: 'handoff',
      session_id: 's_9',
      visitor: { name: 'Jay' },
      created_utc: '2026-11-25T12:00:00.000Z',
    })
    expect(rx.received.map((r) => r.headers['webhook-id'])).toEqual([eventId, eventId, eventId])
    expect(new Set(rx.received.map((r) => r.headers['x-mlc-delivery']))).toEqual(new Set([id]))
    const headers = detail.attempt_log[2].request_headers
    expect(Object.keys(headers).sort()).toEqual(
      [
        'content-type',
        'host',
        'user-agent',
        'webhook-id',
        'webhook-signature',
        'webhook-timestamp',
        'x-mlc-delivery',
        'x-mlc-event',
        'x-mlc-signature',
        'x-mlc-timestamp',
      ].sort(),
    )
    expect(JSON.stringify(detail)).not.toContain(sub.secret)
  })

  test('a succeeded delivery can be replayed too', async () => {
    const sub = (await t.call('POST', '/v1/webhook_subscriptions', { body: { url: rx.url, events: ['ping'] } })).body.data
    const ping = (await t.call('POST', `/v1/webhook_subscriptions/${sub.id}?action=test`)).body.data
    expect(ping.status).toBe('succeeded')
    await t.call('POST', `/v1/webhook_deliveries/${ping.delivery_id}?action=retry`)
    await rx.waitFor(2)
    expect(rx.received[1]?.headers['webhook-id']).toBe(ping.event_id)
    await until(async () => (await t.store.webhooks.getDelivery(t.site1, ping.delivery_id))?.attempts === 2)
  })

  test('retry while an attempt is in flight is 409', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    rx.respond(async () => {
      await gate
      return new Response('ok')
    })
    await t.call('POST', '/v1/webhook_subscriptions', { body: { url: rx.url, events: ['*'] } })
    const { deliveryIds } = await t.store.transaction((tx) => enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'feedback', payload: { rating: 5 } }))
    t.app.webhooks.wake()
    await rx.waitFor(1)
    expectError(await t.call('POST', `/v1/webhook_deliveries/${deliveryIds[0]}?action=retry`), 409, 'conflict', 'id')
    release()
  })
})
