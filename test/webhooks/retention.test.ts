/** Webhook history retention: finished history past the limit goes whole; anything still due stays. */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import type { TxStore } from '../../src/db/store'
import { enqueueEvent } from '../../src/webhooks/enqueue'
import { pruneWebhookHistory } from '../../src/webhooks/retention'
import { createTestApp, type TestApp } from '../helpers'

const DAY = 24 * 60 * 60 * 1000
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

const subscribe = async () => (await t.store.webhooks.insertSubscription(t.site1, 'http://127.0.0.1:9/hook', '["*"]', '', 'whsec_test', t.clock.now())).id
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

test('finished events past the retention go with their deliveries and attempts; due ones and recent ones stay', async () => {
  const finished = await subscribe()
  const waiting = await subscribe()
  // 40 days ago: one event delivered (one attempt recorded), one for a receiver still being retried.
  const old = await emit(finished)
  const delivery = await t.store.webhooks.getDelivery(t.site1, old.deliveryIds[0] as string)
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

  expect(await pruneWebhookHistory(t.store, t.clock, 0)).toBe(0)
  expect(await pruneWebhookHistory(t.store, t.clock, 30)).toBe(1)
  expect(await t.store.webhooks.getEvent(old.eventId)).toBeNull()
  expect(await t.store.webhooks.getDelivery(t.site1, old.deliveryIds[0] as string)).toBeNull()
  expect(await count('webhook_attempts')).toBe(0)
  // Exactly 30 days old is not past 30 days; a delivery still due keeps its 40-day-old event.
  for (const kept of [dead, recent, stillDue]) expect(await t.store.webhooks.getEvent(kept.eventId)).not.toBeNull()
  const listed = await t.call('GET', '/v1/webhook_deliveries')
  expect(listed.body.data.map((d: { id: string }) => d.id).sort()).toEqual([...dead.deliveryIds, ...recent.deliveryIds, ...stillDue.deliveryIds].sort())

  t.clock.advance(1)
  expect(await pruneWebhookHistory(t.store, t.clock, 30)).toBe(1)
  expect(await t.store.webhooks.getEvent(dead.eventId)).toBeNull()
})

test('a large backlog is pruned in batches, all of it', async () => {
  const sub = await subscribe()
  await t.store.transaction(async (tx) => {
    for (let i = 0; i < 1234; i++) await emit(sub, tx)
  })
  await t.store.webhooks.deadLetterPending(sub, 'gave up', t.clock.now())
  t.clock.advance(31 * DAY)
  expect(await pruneWebhookHistory(t.store, t.clock, 30)).toBe(1234)
  expect([await count('webhook_events'), await count('webhook_deliveries')]).toEqual([0, 0])
})
