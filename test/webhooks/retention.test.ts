/**
 * Retention of the webhook history and the event feed: finished deliveries past
 * MLC_WEBHOOK_RETENTION_DAYS go with their attempts; events past MLC_EVENT_RETENTION_DAYS go once
 * no delivery of them is left, so a delivery still due (or still in the log) keeps its event.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import type { TxStore } from '../../src/db/store'
import { enqueueEvent } from '../../src/webhooks/enqueue'
import { pruneWebhookHistory } from '../../src/webhooks/retention'
import { createTestApp, type TestApp } from '../helpers'

const DAY = 24 * 60 * 60 * 1000
const BOTH_30 = { deliveries: 30, events: 30 }
let t: TestApp
/** Every event this test wrote, and the seq of every delivery (what the counts below look for). */
let events: Set<string>
let deliverySeqs: Map<string, number>
beforeEach(async () => {
  t = await createTestApp()
  events = new Set()
  deliverySeqs = new Map()
})
afterEach(() => t.cleanup())

/** A subscription to handoffs (emit's events); emitUnsubscribed's feedback events have none. */
const subscribe = async () => (await t.store.webhooks.insertSubscription(t.site1, 'http://127.0.0.1:9/hook', '["handoff"]', '', 'whsec_test', t.clock.now())).id
/** Enqueues one event in `tx` (its own transaction by default) and remembers what it wrote. */
async function emit(subscriptionId?: number, tx?: TxStore): Promise<{ eventId: string; deliveryIds: string[] }> {
  const write = async (s: TxStore) => {
    const out = await enqueueEvent(s, t.clock, { siteId: t.site1, type: 'handoff', payload: { session_id: 's_1' }, subscriptionId })
    events.add(out.eventId)
    for (const id of out.deliveryIds) deliverySeqs.set(id, (await s.webhooks.getDelivery(t.site1, id))?.seq as number)
    return out
  }
  return tx ? write(tx) : t.store.transaction(write)
}
/** An event no subscription wants. */
async function emitUnsubscribed(): Promise<string> {
  const out = await t.store.transaction((tx) => enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'feedback', payload: { rating: 5 } }))
  events.add(out.eventId)
  return out.eventId
}
/** How many rows of a webhook table are left, read through the repositories (on either engine). */
async function count(table: 'webhook_events' | 'webhook_deliveries' | 'webhook_attempts'): Promise<number> {
  let n = 0
  if (table === 'webhook_events') {
    for (const id of events) if (await t.store.webhooks.getEvent(id)) n++
  } else if (table === 'webhook_deliveries') {
    n = (await t.store.webhooks.listDeliveries(t.site1, { subscriptionId: null, status: null, event: null, beforeSeq: null, limit: 1_000_000 })).length
  } else {
    for (const seq of deliverySeqs.values()) n += (await t.store.webhooks.attemptsOf(seq)).length
  }
  return n
}
/** The feed's ids, oldest first, as a consumer sees them. */
async function feed(): Promise<string[]> {
  const r = await t.call('GET', '/v1/events?order=asc&limit=100')
  return r.body.data.map((e: { id: string }) => e.id)
}
/** Records a successful attempt of a delivery. */
async function succeed(deliveryId: string) {
  const delivery = await t.store.webhooks.getDelivery(t.site1, deliveryId)
  await t.store.webhooks.recordAttempt(
    {
      seq: delivery?.seq as number,
      number: 1,
      url: 'http://127.0.0.1:9/hook',
      atMs: t.clock.now(),
      durationMs: 5,
      statusCode: 200,
      error: null,
      errorMessage: null,
      requestHeaders: '{}',
      responseBody: 'ok',
      status: 'succeeded',
      nextAttemptMs: null,
    },
    t.clock.now(),
  )
}

describe('with both retentions at 30 days', () => {
  test('finished history past the retention goes whole; a delivery still due keeps its event; recent ones stay', async () => {
    const finished = await subscribe()
    const waiting = await subscribe()
    // 40 days ago: one event delivered (one attempt recorded), one for a receiver still being retried.
    const old = await emit(finished)
    await succeed(old.deliveryIds[0] as string)
    const stillDue = await emit(waiting)
    t.clock.advance(10 * DAY)
    // 30 days ago, dead-lettered: also finished.
    const dead = await emit(finished)
    await t.store.webhooks.deadLetterPending(finished, 'gave up', t.clock.now())
    t.clock.advance(30 * DAY - 1000)
    // Recent and finished: inside the retention.
    const recent = await emit(finished)
    await t.store.webhooks.deadLetterPending(finished, 'gave up', t.clock.now())
    t.clock.advance(1000)
    expect([await count('webhook_events'), await count('webhook_deliveries'), await count('webhook_attempts')]).toEqual([4, 4, 1])

    expect(await pruneWebhookHistory(t.store, t.clock, { deliveries: 0, events: 0 })).toEqual({ deliveries: 0, events: 0 })
    expect(await pruneWebhookHistory(t.store, t.clock, BOTH_30)).toEqual({ deliveries: 1, events: 1 })
    expect(await t.store.webhooks.getEvent(old.eventId)).toBeNull()
    expect(await t.store.webhooks.getDelivery(t.site1, old.deliveryIds[0] as string)).toBeNull()
    expect(await count('webhook_attempts')).toBe(0)
    // Exactly 30 days old is not past 30 days; a delivery still due keeps its 40-day-old event.
    for (const kept of [dead, recent, stillDue]) expect(await t.store.webhooks.getEvent(kept.eventId)).not.toBeNull()
    const listed = await t.call('GET', '/v1/webhook_deliveries')
    expect(listed.body.data.map((d: { id: string }) => d.id).sort()).toEqual([...dead.deliveryIds, ...recent.deliveryIds, ...stillDue.deliveryIds].sort())
    expect(await feed()).toEqual([stillDue.eventId, dead.eventId, recent.eventId])

    t.clock.advance(1)
    expect(await pruneWebhookHistory(t.store, t.clock, BOTH_30)).toEqual({ deliveries: 1, events: 1 })
    expect(await t.store.webhooks.getEvent(dead.eventId)).toBeNull()
    // Once its delivery is finished, the old event goes at the next run.
    await succeed(stillDue.deliveryIds[0] as string)
    expect(await pruneWebhookHistory(t.store, t.clock, BOTH_30)).toEqual({ deliveries: 1, events: 1 })
    expect(await feed()).toEqual([recent.eventId])
  })

  test('events no subscription wanted go after the event retention, not before', async () => {
    const old = await emitUnsubscribed()
    t.clock.advance(20 * DAY)
    const younger = await emitUnsubscribed()
    t.clock.advance(10 * DAY + 1)
    expect(await pruneWebhookHistory(t.store, t.clock, BOTH_30)).toEqual({ deliveries: 0, events: 1 })
    expect(await feed()).toEqual([younger])
    expect(await t.store.webhooks.getEvent(old)).toBeNull()
  })
})

describe('the two retentions differ', () => {
  test('a longer delivery history keeps its events in the feed past the event retention', async () => {
    const sub = await subscribe()
    const delivered = await emit(sub)
    await succeed(delivered.deliveryIds[0] as string)
    const unsubscribed = await emitUnsubscribed()
    t.clock.advance(40 * DAY)
    const days = { deliveries: 90, events: 30 }
    expect(await pruneWebhookHistory(t.store, t.clock, days)).toEqual({ deliveries: 0, events: 1 })
    // The delivery log still shows the delivery, and retry still finds its event's body.
    expect(await feed()).toEqual([delivered.eventId])
    expect((await t.call('GET', `/v1/webhook_deliveries/${delivered.deliveryIds[0]}`)).status).toBe(200)
    expect(await t.store.webhooks.getEvent(unsubscribed)).toBeNull()
    t.clock.advance(50 * DAY + 1)
    expect(await pruneWebhookHistory(t.store, t.clock, days)).toEqual({ deliveries: 1, events: 1 })
    expect(await feed()).toEqual([])
    expect(await count('webhook_attempts')).toBe(0)
  })

  test('a shorter delivery history goes first; the feed keeps the events for their own retention', async () => {
    const sub = await subscribe()
    const delivered = await emit(sub)
    await succeed(delivered.deliveryIds[0] as string)
    t.clock.advance(10 * DAY)
    const days = { deliveries: 7, events: 30 }
    expect(await pruneWebhookHistory(t.store, t.clock, days)).toEqual({ deliveries: 1, events: 0 })
    expect(await count('webhook_deliveries')).toBe(0)
    expect(await feed()).toEqual([delivered.eventId])
    t.clock.advance(20 * DAY + 1)
    expect(await pruneWebhookHistory(t.store, t.clock, days)).toEqual({ deliveries: 0, events: 1 })
    expect(await feed()).toEqual([])
  })

  test('0 keeps that part forever', async () => {
    const sub = await subscribe()
    const delivered = await emit(sub)
    await succeed(delivered.deliveryIds[0] as string)
    const unsubscribed = await emitUnsubscribed()
    t.clock.advance(3650 * DAY)
    expect(await pruneWebhookHistory(t.store, t.clock, { deliveries: 30, events: 0 })).toEqual({ deliveries: 1, events: 0 })
    expect(await feed()).toEqual([delivered.eventId, unsubscribed])
    expect(await pruneWebhookHistory(t.store, t.clock, { deliveries: 0, events: 30 })).toEqual({ deliveries: 0, events: 2 })
  })
})

describe('large backlogs', () => {
  test('are pruned in batches, all of it', async () => {
    const sub = await subscribe()
    await t.store.transaction(async (tx) => {
      for (let i = 0; i < 1234; i++) await emit(sub, tx)
    })
    await t.store.webhooks.deadLetterPending(sub, 'gave up', t.clock.now())
    t.clock.advance(31 * DAY)
    expect(await pruneWebhookHistory(t.store, t.clock, BOTH_30)).toEqual({ deliveries: 1234, events: 1234 })
    expect([await count('webhook_events'), await count('webhook_deliveries')]).toEqual([0, 0])
  })

  test('more kept events than a batch (deliveries still due) do not stop the events after them from going', async () => {
    const sub = await subscribe()
    await t.store.transaction(async (tx) => {
      for (let i = 0; i < 600; i++) await emit(sub, tx)
    })
    t.clock.advance(1)
    for (let i = 0; i < 3; i++) await emitUnsubscribed()
    t.clock.advance(31 * DAY)
    expect(await pruneWebhookHistory(t.store, t.clock, BOTH_30)).toEqual({ deliveries: 0, events: 3 })
    expect(await count('webhook_events')).toBe(600)
  })
})
