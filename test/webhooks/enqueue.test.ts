/** The outbox: events and deliveries are written with the caller's transaction, or not at all. */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createdMsOfEventId, enqueueEvent } from '../../src/webhooks/enqueue'
import { createTestApp, type TestApp } from '../helpers'

let t: TestApp
beforeEach(async () => {
  t = await createTestApp()
})
afterEach(() => t.cleanup())

async function subscribe(siteId: number, events: string[], active = true): Promise<number> {
  const row = await t.store.webhooks.insertSubscription(siteId, 'http://127.0.0.1:9/hook', JSON.stringify(events), '', 'whsec_test', t.clock.now())
  if (!active) await t.store.webhooks.disableSubscription(row.id, 'test', t.clock.now())
  return row.id
}

describe('enqueueEvent', () => {
  test('writes one delivery per active subscription that wants the event', async () => {
    const all = await subscribe(t.site1, ['*'])
    const handoff = await subscribe(t.site1, ['handoff'])
    await subscribe(t.site1, ['feedback'])
    await subscribe(t.site1, ['handoff'], false)
    await subscribe(t.site2, ['*'])
    const out = await t.store.transaction((tx) =>
      enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'handoff', payload: { session_id: 's_1', visitor: { name: 'Jay' } } }),
    )
    expect(out.eventId).toMatch(/^evt_[0-9a-f]{32}$/)
    expect(out.deliveryIds).toHaveLength(2)
    const rows = await t.store.webhooks.listDeliveries(t.site1, { subscriptionId: null, status: null, event: null, beforeSeq: null, limit: 10 })
    expect(rows.map((r) => r.subscription_id).sort()).toEqual([all, handoff].sort())
    for (const r of rows) {
      expect(r.status).toBe('pending')
      expect(r.next_attempt_ms).toBe(t.clock.now())
      expect(r.event_id).toBe(out.eventId)
    }
    expect(await t.store.webhooks.listDeliveries(t.site2, { subscriptionId: null, status: null, event: null, beforeSeq: null, limit: 10 })).toHaveLength(0)
  })

  test('a rolled-back transaction leaves no event and no delivery', async () => {
    await subscribe(t.site1, ['*'])
    await expect(
      t.store.transaction(async (tx) => {
        await enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'feedback', payload: { rating: 5 } })
        throw new Error('the cause failed')
      }),
    ).rejects.toThrow('the cause failed')
    expect((await t.store.webhooks.queueStats(t.clock.now())).depth).toBe(0)
  })

  test('the body puts id and event first and adds created_utc; payload cannot override them', async () => {
    await subscribe(t.site1, ['*'])
    const out = await t.store.transaction((tx) => enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'ping', payload: { id: 'spoof', event: 'handoff' } }))
    const body = (await t.store.webhooks.getEvent(out.eventId))?.body as string
    expect(body).toBe(JSON.stringify({ id: out.eventId, event: 'ping', created_utc: '2026-11-25T12:00:00.000Z' }))
  })

  test('no matching subscription: the event is stored for the feed, no delivery is queued', async () => {
    await subscribe(t.site1, ['feedback'])
    await subscribe(t.site1, ['handoff'], false)
    const out = await t.store.transaction((tx) => enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'handoff', payload: { session_id: 's_1' } }))
    expect(out.deliveryIds).toEqual([])
    expect((await t.store.webhooks.queueStats(t.clock.now())).depth).toBe(0)
    const stored = await t.store.webhooks.getSiteEvent(t.site1, out.eventId)
    expect(stored?.body).toBe(JSON.stringify({ id: out.eventId, event: 'handoff', session_id: 's_1', created_utc: '2026-11-25T12:00:00.000Z' }))
    // A site with no subscription at all stores its events too.
    const other = await t.store.transaction((tx) => enqueueEvent(tx, t.clock, { siteId: t.site2, type: 'feedback', payload: {} }))
    expect(await t.store.webhooks.getSiteEvent(t.site2, other.eventId)).not.toBeNull()
  })

  test("an event's id carries its creation time, and a visitor's key is kept for an erasure", async () => {
    const out = await t.store.transaction((tx) =>
      enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'handoff', payload: { visitor: { key: 'u_1', name: 'Jay', email: null } } }),
    )
    expect(createdMsOfEventId(out.eventId)).toBe(t.clock.now())
    expect((await t.store.webhooks.getEvent(out.eventId))?.visitor_key).toBe('u_1')
    expect(await t.store.webhooks.eventsOfVisitor(t.site1, 'u_1')).toHaveLength(1)
    expect(await t.store.webhooks.eventsOfVisitor(t.site2, 'u_1')).toHaveLength(0)
    const anonymous = await t.store.transaction((tx) => enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'ping', payload: {} }))
    expect((await t.store.webhooks.getEvent(anonymous.eventId))?.visitor_key).toBeNull()
    expect(createdMsOfEventId('evt_nope')).toBeNull()
  })
})
