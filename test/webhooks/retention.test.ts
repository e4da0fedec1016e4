/** Webhook history retention: finished history past the limit goes whole; anything still due stays. */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { enqueueEvent } from '../../src/webhooks/enqueue'
import { pruneWebhookHistory } from '../../src/webhooks/retention'
import { createTestApp, type TestApp } from '../helpers'

const DAY = 24 * 60 * 60 * 1000
let t: TestApp
beforeEach(() => {
  t = createTestApp()
})
afterEach(() => t.cleanup())

const subscribe = () => t.store.webhooks.insertSubscription(t.site1, 'http://127.0.0.1:9/hook', '["*"]', '', 'whsec_test', t.clock.now()).id
const emit = (subscriptionId?: number) => enqueueEvent(t.store, t.clock, { siteId: t.site1, type: 'handoff', payload: { session_id: 's_1' }, subscriptionId })
const count = (table: string) => (t.store.db.query(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n

test('finished events past the retention go with their deliveries and attempts; due ones and recent ones stay', async () => {
  const finished = subscribe()
  const waiting = subscribe()
  // 40 days ago: one event delivered (one attempt recorded), one for a receiver still being retried.
  const old = emit(finished)
  const delivery = t.store.webhooks.getDelivery(t.site1, old.deliveryIds[0] as string)
  t.store.webhooks.recordAttempt(
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
  const stillDue = emit(waiting)
  t.clock.advance(10 * DAY)
  // 30 days ago, dead-lettered: also finished.
  const dead = emit(finished)
  t.store.webhooks.deadLetterPending(finished, 'gave up', t.clock.now())
  t.clock.advance(30 * DAY - 1000)
  // Recent and finished: inside the retention.
  const recent = emit(finished)
  t.store.webhooks.deadLetterPending(finished, 'gave up', t.clock.now())
  t.clock.advance(1000)
  expect([count('webhook_events'), count('webhook_deliveries'), count('webhook_attempts')]).toEqual([4, 4, 1])

  expect(await pruneWebhookHistory(t.store, t.clock, 0)).toBe(0)
  expect(await pruneWebhookHistory(t.store, t.clock, 30)).toBe(1)
  expect(t.store.webhooks.getEvent(old.eventId)).toBeNull()
  expect(t.store.webhooks.getDelivery(t.site1, old.deliveryIds[0] as string)).toBeNull()
  expect(count('webhook_attempts')).toBe(0)
  // Exactly 30 days old is not past 30 days; a delivery still due keeps its 40-day-old event.
  for (const kept of [dead, recent, stillDue]) expect(t.store.webhooks.getEvent(kept.eventId)).not.toBeNull()
  const listed = await t.call('GET', '/v1/webhook_deliveries')
  expect(listed.body.data.map((d: { id: string }) => d.id).sort()).toEqual([...dead.deliveryIds, ...recent.deliveryIds, ...stillDue.deliveryIds].sort())

  t.clock.advance(1)
  expect(await pruneWebhookHistory(t.store, t.clock, 30)).toBe(1)
  expect(t.store.webhooks.getEvent(dead.eventId)).toBeNull()
})

test('a large backlog is pruned in batches, all of it', async () => {
  const sub = subscribe()
  t.store.transaction(() => {
    for (let i = 0; i < 1234; i++) emit(sub)
  })
  t.store.webhooks.deadLetterPending(sub, 'gave up', t.clock.now())
  t.clock.advance(31 * DAY)
  expect(await pruneWebhookHistory(t.store, t.clock, 30)).toBe(1234)
  expect([count('webhook_events'), count('webhook_deliveries')]).toEqual([0, 0])
})
