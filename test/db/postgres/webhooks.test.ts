/**
 * The webhooks repository: PostgreSQL answers what SQLite answers (subscriptions, events,
 * deliveries, attempts, the worker's claim and record statements, retention), and on PostgreSQL
 * the workers of several instances claim from one queue without sending a row twice while its
 * lease is live, within the per-subscription limit.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { SQL } from 'bun'
import type { AsyncRepo } from '../../../src/db/async-repo'
import { UniqueViolationError } from '../../../src/db/errors'
import { openPostgres } from '../../../src/db/postgres/connection'
import { fromPostgresError } from '../../../src/db/postgres/errors'
import { createPostgresSiteRepo } from '../../../src/db/postgres/sites'
import { createPostgresWebhookRepo } from '../../../src/db/postgres/webhooks'
import type { AttemptRecord, ClaimLimits, FinishedAttempt, WebhookRepo } from '../../../src/db/rows'
import { asAsync, type Engines, openEngines, sameOnBoth } from './engines'
import { freshPostgresDatabase, TEST_DATABASE_URL, type TestDatabase } from './harness'

type Repo = AsyncRepo<WebhookRepo>
const T = 1_700_000_000_000
const SUB_EVENTS = JSON.stringify(['handoff', 'feedback'])

/** Both engines with sites 1 and 2. */
async function enginesWithSites(): Promise<Engines> {
  const e = await openEngines()
  for (const sites of [asAsync(e.sqlite.sites), createPostgresSiteRepo(e.pg)]) {
    await sites.insert('one', 'free', null, 'pk_one', T)
    await sites.insert('two', 'free', null, 'pk_two', T)
  }
  return e
}

/** Both repos of `e`. */
function repos(e: Engines): [Repo, Repo] {
  return [asAsync(e.sqlite.webhooks), createPostgresWebhookRepo(e.pg)]
}

/** An attempt's outcome as the worker reports it. */
function outcome(
  seq: number,
  number: number,
  at: number,
  status: AttemptRecord['status'],
  nextAttemptMs: number | null,
  statusCode: number | null,
): AttemptRecord {
  return {
    seq,
    number,
    url: 'https://hooks.example.com/ünïcode?x=1',
    atMs: at,
    durationMs: 37,
    statusCode,
    error: statusCode !== null && statusCode < 300 ? null : statusCode === null ? 'timeout' : 'http_status',
    errorMessage: statusCode === null ? 'no answer within 10 s' : null,
    requestHeaders: JSON.stringify({ 'webhook-id': `dlv_${seq}`, 'content-type': 'application/json' }),
    responseBody: statusCode === null ? null : `{"ok":${statusCode < 300}} ✓`,
    status,
    nextAttemptMs,
  }
}

describe.skipIf(!TEST_DATABASE_URL)('webhooks on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await enginesWithSites()
  })
  afterAll(() => e?.close())

  test('subscriptions: insert, list, get, count, active, update, rotate, disable, remove, other site', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (w) => [
      await w.insertSubscription(1, 'https://a.example.com/hook', SUB_EVENTS, 'Zapier → CRM ✓', 'whsec_a', T),
      await w.insertSubscription(1, 'https://b.example.com/hook', '["*"]', '', 'whsec_b', T + 1),
      await w.insertSubscription(2, 'https://c.example.com/hook', '["ping"]', 'other site', 'whsec_c', T + 2),
      await w.insertSubscription(1, 'https://d.example.com/hook', '["feedback"]', 'd', 'whsec_d', T + 3),
      await w.listSubscriptions(1),
      await w.listSubscriptions(2),
      await w.listSubscriptions(3),
      await w.getSubscription(1, 2),
      await w.getSubscription(2, 2),
      await w.getSubscription(1, 99),
      await w.countSubscriptions(1),
      await w.countSubscriptions(3),
      await w.activeSubscriptions(1),
      await w.updateSubscription(
        1,
        2,
        { url: 'https://b2.example.com/', events: '["handoff"]', description: 'édité', active: false, disabledReason: 'manual' },
        T + 10,
      ),
      await w.updateSubscription(2, 1, { url: 'https://x/', events: '[]', description: '', active: true, disabledReason: null }, T + 10),
      await w.activeSubscriptions(1),
      await w.rotateSecret(1, 1, 'whsec_a2', T + 86_400_000, T + 11),
      await w.rotateSecret(1, 1, 'whsec_a3', T + 90_000_000, T + 12),
      await w.rotateSecret(2, 1, 'whsec_nope', T, T),
      await w.disableSubscription(4, 'gone', T + 13),
      await w.disableSubscription(4, 'gone', T + 14),
      await w.disableSubscription(99, 'gone', T + 14),
      await w.getSubscription(1, 4),
      await w.updateSubscription(
        1,
        4,
        { url: 'https://d.example.com/hook', events: '["feedback"]', description: 'd', active: true, disabledReason: null },
        T + 15,
      ),
      await w.removeSubscription(2, 1),
      await w.removeSubscription(1, 99),
      await w.listSubscriptions(1),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[11]).toBe(0)
    expect((fromPg[17] as { previous_secret: string }).previous_secret).toBe('whsec_a2')
  })

  test('events and deliveries: insert, get, list with every filter and cursor, other site', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (w) => {
      // Subscriptions 1, 2, 4 are site 1's; 3 is site 2's (from the test above).
      await w.insertEvent('evt_a', 1, 'handoff', '{"id":"evt_a","event":"handoff","summary":"Привет 👋"}', T + 100)
      await w.insertEvent('evt_b', 1, 'feedback', '{"id":"evt_b","event":"feedback","rating":5}', T + 101)
      await w.insertEvent('evt_c', 2, 'ping', '{"id":"evt_c","event":"ping"}', T + 102)
      await w.insertDelivery('dlv_a1', 1, 1, 'evt_a', 'handoff', T + 100)
      await w.insertDelivery('dlv_a4', 1, 4, 'evt_a', 'handoff', T + 100)
      await w.insertDelivery('dlv_b1', 1, 1, 'evt_b', 'feedback', T + 101)
      await w.insertDelivery('dlv_b2', 1, 2, 'evt_b', 'feedback', T + 101)
      await w.insertDelivery('dlv_c3', 2, 3, 'evt_c', 'ping', T + 102)
      const all = { subscriptionId: null, status: null, event: null, beforeSeq: null, limit: 50 }
      return [
        await w.getEvent('evt_a'),
        await w.getEvent('evt_c'),
        await w.getEvent('evt_missing'),
        await w.listDeliveries(1, all),
        await w.listDeliveries(2, all),
        await w.listDeliveries(3, all),
        await w.listDeliveries(1, { ...all, subscriptionId: 1 }),
        await w.listDeliveries(1, { ...all, subscriptionId: 3 }),
        await w.listDeliveries(1, { ...all, event: 'feedback' }),
        await w.listDeliveries(1, { ...all, event: 'FEEDBACK' }),
        await w.listDeliveries(1, { ...all, status: 'pending' }),
        await w.listDeliveries(1, { ...all, status: 'succeeded' }),
        await w.listDeliveries(1, { ...all, limit: 2 }),
        await w.listDeliveries(1, { ...all, limit: 2, beforeSeq: 3 }),
        await w.listDeliveries(1, { ...all, limit: 2, beforeSeq: 1 }),
        await w.listDeliveries(1, { subscriptionId: 1, status: 'pending', event: 'handoff', beforeSeq: 4, limit: 1 }),
        await w.listDeliveries(1, { ...all, limit: 0 }),
        await w.listDeliveries(1, { ...all, limit: -1 }),
        await w.getDelivery(1, 'dlv_b2'),
        await w.getDelivery(2, 'dlv_b2'),
        await w.getDelivery(1, 'dlv_missing'),
        await w.attemptsOf(1),
      ]
    })
    expect(fromPg).toEqual(fromSqlite)
    expect((fromPg[3] as unknown[]).length).toBe(4)
    expect(fromPg[9]).toEqual([])
  })

  test('worker statements: due rows, leases, attempts, requeue, dead letters, queue stats, next wake', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (w) => {
      const out: unknown[] = []
      const at = T + 200
      out.push(await w.queueStats(at), await w.nextWakeMs(at))
      // Ties: due at the same ms on several subscriptions (inserted out of subscription order).
      await w.insertEvent('evt_t', 1, 'handoff', '{"id":"evt_t"}', T + 150)
      await w.insertDelivery('dlv_t4', 1, 4, 'evt_t', 'handoff', T + 150)
      await w.insertDelivery('dlv_t1', 1, 1, 'evt_t', 'handoff', T + 150)
      await w.insertDelivery('dlv_t2', 1, 2, 'evt_t', 'handoff', T + 150)
      out.push(await w.dueRows(at, 100, []), await w.dueRows(at, 3, []), await w.dueRows(at, 100, [1, 4]), await w.dueRows(T + 99, 100, []))
      out.push(await w.dueRowsFor(1, at, 100), await w.dueRowsFor(1, at, 1), await w.dueRowsFor(9, at, 100))
      // Lease two rows until at+1000; one of them twice (the second claimer gets nothing).
      out.push(await w.leaseMany([1, 6], at + 1000, at), await w.leaseMany([6, 7], at + 1000, at), await w.leaseMany([], at + 1000, at))
      out.push(await w.dueRows(at, 100, []), await w.queueStats(at), await w.nextWakeMs(at))
      // Requeue refuses a leased row, accepts an unleased one.
      out.push(await w.requeueDelivery(1, 'dlv_a1', at), await w.requeueDelivery(1, 'dlv_b1', at + 1), await w.requeueDelivery(2, 'dlv_b1', at))
      // Attempts: a failure with a retry, a success, a dead letter without attempt.
      await w.recordAttempt(outcome(1, 1, at, 'failed', at + 60_000, null), at + 40)
      await w.recordAttempt(outcome(6, 1, at, 'succeeded', null, 204), at + 41)
      await w.recordAttempt(outcome(7, 1, at, 'failed', at + 30_000, 500), at + 42)
      await w.recordAttempt(outcome(7, 2, at + 30_000, 'succeeded', null, 200), at + 30_001)
      await w.deadLetter(5, 'subscription inactive', at + 43)
      out.push(await w.attemptsOf(1), await w.attemptsOf(6), await w.attemptsOf(7), await w.attemptsOf(5))
      out.push(await w.listDeliveries(1, { subscriptionId: null, status: null, event: null, beforeSeq: null, limit: 50 }))
      out.push(await w.listDeliveries(2, { subscriptionId: null, status: 'dead', event: null, beforeSeq: null, limit: 50 }))
      // A lease that expires: due again after its end, and sorted after unleased rows of the same time.
      out.push(await w.leaseMany([2, 8], at + 500, at))
      out.push(await w.dueRows(at + 499, 100, []), await w.dueRows(at + 500, 100, []), await w.dueRowsFor(4, at + 500, 100))
      out.push(await w.queueStats(at + 499), await w.nextWakeMs(at + 100), await w.nextWakeMs(at + 499))
      out.push(await w.requeueDelivery(1, 'dlv_a4', at + 499), await w.requeueDelivery(1, 'dlv_a4', at + 500))
      await w.releaseLease(8)
      out.push(await w.getDelivery(1, 'dlv_t2'))
      // Dead-lettering a subscription's queue skips rows in flight (leased).
      out.push(await w.leaseMany([3], at + 5000, at + 600))
      out.push(await w.deadLetterPending(1, 'subscription deactivated', at + 601), await w.deadLetterPending(1, 'again', at + 602))
      out.push(await w.deadLetterPending(99, 'none', at + 602))
      out.push(await w.listDeliveries(1, { subscriptionId: 1, status: null, event: null, beforeSeq: null, limit: 50 }))
      out.push(await w.queueStats(at + 700), await w.queueStats(T + 10_000_000), await w.nextWakeMs(at + 700))
      return out
    })
    expect(fromPg).toEqual(fromSqlite)
    // The tie order: subscription 1, 2, then 4 for the rows due at T+150.
    expect((fromPg[2] as { seq: number; subscription_id: number }[]).filter((r) => r.seq >= 6).map((r) => r.subscription_id)).toEqual([1, 2, 4])
    expect(fromPg[11]).toEqual([])
  })

  test('retention: finished old deliveries with their attempts, then old events no delivery refers to, in keyset batches', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (w) => {
      const old = T - 40 * 86_400_000
      const subs = (await w.listSubscriptions(1)).map((s) => s.id)
      const sub = subs[0] as number
      for (let i = 0; i < 6; i++) await w.insertEvent(`evt_old${i}`, 1, 'ping', `{"i":${i}}`, old + (i < 3 ? 0 : i))
      for (let i = 0; i < 6; i++) await w.insertDelivery(`dlv_old${i}`, 1, sub, `evt_old${i}`, 'ping', old + (i < 3 ? 0 : i))
      // Events no subscription wanted, two in the same millisecond.
      for (const id of ['evt_lone_b', 'evt_lone_a', 'evt_lone_c']) await w.insertEvent(id, 2, 'ping', '{}', old + (id === 'evt_lone_c' ? 9 : 2))
      const seqs: number[] = []
      // All but dlv_old4 finish (dlv_old4 still waits for a retry).
      for (let i = 0; i < 6; i++) {
        const seq = (await w.getDelivery(1, `dlv_old${i}`))?.seq as number
        seqs.push(seq)
        const waiting = i === 4
        await w.recordAttempt(outcome(seq, 1, old, waiting ? 'failed' : 'succeeded', waiting ? T + 1 : null, waiting ? 500 : 200), old)
      }
      return [
        await w.pruneFinishedDeliveries(old, 100),
        await w.pruneEvents(old, null, 100),
        await w.pruneFinishedDeliveries(T, 2),
        await w.getDelivery(1, 'dlv_old0'),
        await w.getDelivery(1, 'dlv_old2'),
        await w.attemptsOf(seqs[0] as number),
        // Events: a batch looks at `limit` of them in (created_ms, id) order, kept ones included.
        await w.pruneEvents(T, null, 4),
        await w.pruneEvents(T, { createdMs: old + 2, id: 'evt_lone_a' }, 3),
        await w.pruneFinishedDeliveries(T, 100),
        await w.pruneFinishedDeliveries(T, 100),
        await w.pruneEvents(T, null, 100),
        await w.pruneEvents(T, null, 100),
        await w.getEvent('evt_old4'),
        await w.getEvent('evt_old5'),
        await w.getDelivery(1, 'dlv_old4'),
        await w.getDelivery(1, 'dlv_old5'),
        await w.listDeliveries(1, { subscriptionId: null, status: null, event: 'ping', beforeSeq: null, limit: 50 }),
        await w.pruneEvents(T, null, -1),
      ]
    })
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg.slice(0, 3)).toEqual([0, { examined: 0, deleted: 0, last: null }, 2])
    // evt_old0 and evt_old1 lost their deliveries above, evt_old2 keeps one; evt_lone_a never had any.
    expect(fromPg[6]).toEqual({ examined: 4, deleted: 3, last: { createdMs: T - 40 * 86_400_000 + 2, id: 'evt_lone_a' } })
    expect((fromPg[7] as { deleted: number }).deleted).toBe(1)
    expect(fromPg[8]).toBe(3)
    expect(fromPg[12]).not.toBeNull()
    expect(fromPg[13]).toBeNull()
  })

  test('the event feed: pages in both orders, type, since, cursor, one event, erasure rewrite, other site', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (w) => {
      const at = T + 8_000_000
      // Ids that a locale's collation would order differently from byte order.
      const ids = ['evt_feed_B', 'evt_feed_a', 'evt_feed_A', 'evt_feed-1', 'evt_feed_b', 'evt_feed_1']
      for (const [i, id] of ids.entries()) {
        const body = `{"id":"${id}","event":"${i % 2 ? 'feedback' : 'handoff'}","visitor":{"key":"u_${i % 3}","name":"Zoë ${i}"}, "n":${i}.0}`
        await w.insertEvent(id, 1, i % 2 ? 'feedback' : 'handoff', body, at + Math.floor(i / 2), `u_${i % 3}`)
      }
      await w.insertEvent('evt_feed_other', 2, 'handoff', '{"visitor":{"key":"u_0"}}', at + 1, 'u_0')
      const all = { type: null, sinceMs: null, after: null, order: 'desc' as const, limit: 50 }
      return [
        await w.listEvents(1, all),
        await w.listEvents(1, { ...all, order: 'asc' }),
        await w.listEvents(1, { ...all, type: 'feedback' }),
        await w.listEvents(1, { ...all, type: 'feedback', order: 'asc' }),
        await w.listEvents(1, { ...all, type: 'FEEDBACK' }),
        await w.listEvents(1, { ...all, sinceMs: at + 1 }),
        await w.listEvents(1, { ...all, sinceMs: at + 1, order: 'asc' }),
        await w.listEvents(1, { ...all, after: { createdMs: at + 1, id: 'evt_feed_A' } }),
        await w.listEvents(1, { ...all, after: { createdMs: at + 1, id: 'evt_feed_A' }, order: 'asc' }),
        await w.listEvents(1, { ...all, after: { createdMs: at + 1, id: 'evt_feed_A' }, order: 'asc', sinceMs: at + 2 }),
        await w.listEvents(1, { ...all, after: { createdMs: at + 2, id: 'evt_feed_1' }, order: 'asc', sinceMs: at }),
        await w.listEvents(1, { ...all, after: { createdMs: at + 1, id: 'evt_feed_A' }, type: 'handoff' }),
        await w.listEvents(1, { ...all, limit: 2 }),
        await w.listEvents(1, { ...all, limit: 2, order: 'asc' }),
        await w.listEvents(1, { ...all, limit: -1 }),
        await w.listEvents(2, all),
        await w.listEvents(3, all),
        await w.getSiteEvent(1, 'evt_feed_a'),
        await w.getSiteEvent(2, 'evt_feed_a'),
        await w.getSiteEvent(1, 'evt_feed_missing'),
        await w.eventsOfVisitor(1, 'u_0'),
        await w.eventsOfVisitor(1, 'u_9'),
        await w.rewriteErasedEvent(1, 'evt_feed_B', '{"erased":true}'),
        await w.rewriteErasedEvent(2, 'evt_feed_a', '{"stolen":true}'),
        await w.eventsOfVisitor(1, 'u_0'),
        await w.getEvent('evt_feed_B'),
        await w.getEvent('evt_feed_a'),
        await w.eventsOfVisitor(2, 'u_0'),
      ]
    })
    expect(fromPg).toEqual(fromSqlite)
    // Within a millisecond, byte order: "-" < "1" < "A" < "B" < "_" < "a" < "b".
    const feedIds = (rows: unknown) => (rows as { id: string }[]).map((r) => r.id).filter((id) => id.startsWith('evt_feed'))
    expect(feedIds(fromPg[1])).toEqual(['evt_feed_B', 'evt_feed_a', 'evt_feed-1', 'evt_feed_A', 'evt_feed_1', 'evt_feed_b'])
    expect(feedIds(fromPg[0])).toEqual(['evt_feed_b', 'evt_feed_1', 'evt_feed_A', 'evt_feed-1', 'evt_feed_a', 'evt_feed_B'])
    expect((fromPg[17] as { body: string }).body).toBe('{"id":"evt_feed_a","event":"feedback","visitor":{"key":"u_1","name":"Zoë 1"}, "n":1.0}')
    expect((fromPg[20] as unknown[]).length).toBe(2)
    expect((fromPg[24] as unknown[]).length).toBe(1)
  })

  test('transaction(fn) is SQLite-only; PostgreSQL says so', async () => {
    const pg = createPostgresWebhookRepo(e.pg)
    await expect(pg.transaction(() => 1)).rejects.toThrow(/SQLite-only/)
  })
})

describe.skipIf(!TEST_DATABASE_URL)('webhooks: the worker cycle on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await enginesWithSites()
  })
  afterAll(() => e?.close())

  test('the worker cycle: record, 410 Gone, claim within the limits, in claim order, exhausted', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (w) => {
      const out: unknown[] = []
      const at = T + 1_000_000
      // Subscription 10 (site 1, busy endpoint: 7 rows due), 11 (3 rows), 12 (2 rows, will answer 410).
      for (const [n, url] of ['https://busy/', 'https://calm/', 'https://gone/'].entries()) {
        await w.insertSubscription(1, url, '["*"]', `s${n}`, `whsec_${n}`, at)
      }
      const subs = (await w.listSubscriptions(1)).slice(-3).map((s) => s.id)
      const [busy, calm, gone] = subs as [number, number, number]
      await w.insertEvent('evt_q1', 1, 'handoff', '{"id":"evt_q1","n":1}', at)
      await w.insertEvent('evt_q2', 1, 'feedback', '{"id":"evt_q2","n":2}', at + 1)
      let k = 0
      for (let i = 0; i < 7; i++) await w.insertDelivery(`dlv_q${k++}`, 1, busy, i < 4 ? 'evt_q1' : 'evt_q2', 'handoff', at + (i % 3))
      for (let i = 0; i < 3; i++) await w.insertDelivery(`dlv_q${k++}`, 1, calm, 'evt_q2', 'feedback', at + 1)
      for (let i = 0; i < 2; i++) await w.insertDelivery(`dlv_q${k++}`, 1, gone, 'evt_q1', 'handoff', at)
      const limits: ClaimLimits = { max: 5, perSubscription: 2, leaseMs: 60_000, onlySubscriptions: null }
      // Cycle 1: nothing finished; five rows, at most two per subscription (other queued rows are older: some are leased, some not).
      const c1 = await w.recordAndClaim([], at + 10, limits)
      out.push(c1)
      // Cycle 2: the busy endpoint answered; the gone one answered 410; claim again with room for 10.
      const bySub = (s: number) => c1.claimed.filter((r) => r.subscription_id === s)
      const finished: FinishedAttempt[] = [
        ...bySub(busy).map((r) => ({ record: outcome(r.seq, r.attempts + 1, at + 10, 'succeeded', null, 200), subscriptionId: busy, gone: false })),
        ...bySub(gone)
          .slice(0, 1)
          .map((r) => ({ record: outcome(r.seq, r.attempts + 1, at + 10, 'dead', null, 410), subscriptionId: gone, gone: true })),
      ]
      const c2 = await w.recordAndClaim(finished, at + 20, { ...limits, max: 10 })
      out.push(c2)
      // Cycle 3: a slot of `calm` freed: only that subscription is looked at.
      const calmRow = c1.claimed.find((r) => r.subscription_id === calm)
      const c3 = await w.recordAndClaim(
        calmRow ? [{ record: outcome(calmRow.seq, 1, at + 20, 'failed', at + 90_000, 503), subscriptionId: calm, gone: false }] : [],
        at + 30,
        { ...limits, max: 10, onlySubscriptions: [calm, busy, 424242] },
      )
      out.push(c3)
      // Cycle 4: no room at all (stopping): only records; nothing claimed, not exhausted.
      out.push(await w.recordAndClaim([], at + 40, { ...limits, max: 0 }))
      // Cycle 5: after every lease expired, rows are claimable again.
      out.push(await w.recordAndClaim([], at + 40 + 60_000, { ...limits, max: 3 }))
      for (const s of subs) out.push(await w.listDeliveries(1, { subscriptionId: s, status: null, event: null, beforeSeq: null, limit: 50 }))
      out.push(await w.getSubscription(1, gone))
      for (const r of c1.claimed) out.push(await w.attemptsOf(r.seq))
      return out
    })
    expect(fromPg).toEqual(fromSqlite)
    const [c1, c2] = fromPg as { claimed: { seq: number; subscription_id: number }[]; deactivated: unknown[]; exhausted: boolean }[]
    expect(c1?.claimed.length).toBe(5)
    expect(c2?.deactivated).toEqual([{ subscriptionId: expect.any(Number), deadLettered: 0 }])
    // The leased-but-unfinished row of the gone subscription is not dead-lettered (it is in flight).
    expect(c2?.exhausted).toBe(true)
  })
})

describe.skipIf(!TEST_DATABASE_URL)('webhooks: duplicates', () => {
  let e: Engines
  beforeAll(async () => {
    e = await enginesWithSites()
  })
  afterAll(() => e?.close())

  test('a duplicate event or delivery id is a unique violation on both engines', async () => {
    const [lite, pg] = repos(e)
    for (const w of [lite, pg]) {
      await w.insertSubscription(1, 'https://a/', '["*"]', '', 's', T)
      await w.insertEvent('evt_1', 1, 'ping', '{}', T)
      await w.insertDelivery('dlv_1', 1, 1, 'evt_1', 'ping', T)
    }
    const sqliteErrors = await Promise.all([
      lite.insertEvent('evt_1', 1, 'ping', '{}', T).catch((err) => err.code),
      lite.insertDelivery('dlv_1', 1, 1, 'evt_1', 'ping', T).catch((err) => err.code),
    ])
    expect(sqliteErrors).toEqual(['SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT_UNIQUE'])
    const pgErrors = [
      fromPostgresError(await pg.insertEvent('evt_1', 1, 'ping', '{}', T).catch((err) => err)),
      fromPostgresError(await pg.insertDelivery('dlv_1', 1, 1, 'evt_1', 'ping', T).catch((err) => err)),
    ]
    expect(pgErrors.map((err) => err instanceof UniqueViolationError && [err.constraint, err.columns])).toEqual([
      ['webhook_events_pkey', ['id']],
      ['webhook_deliveries_id_key', ['id']],
    ])
  })
})

/** Two "instances": pools of their own over one database, each with its repo. */
describe.skipIf(!TEST_DATABASE_URL)('webhooks on PostgreSQL: several workers claiming at once', () => {
  let db: TestDatabase
  let pools: SQL[] = []
  const SUBSCRIPTIONS = 10
  const ROWS = 500

  beforeAll(async () => {
    db = await freshPostgresDatabase()
    await createPostgresSiteRepo(db.sql).insert('one', 'free', null, 'pk_one', T)
    const w = createPostgresWebhookRepo(db.sql)
    for (let s = 0; s < SUBSCRIPTIONS; s++) await w.insertSubscription(1, `https://s${s}.example.com/`, '["*"]', '', `whsec_${s}`, T)
    pools = [0, 1].map(() => openPostgres({ url: db.url, poolSize: 3, statementTimeoutMs: 30_000, prepare: true }))
  })
  afterAll(async () => {
    for (const p of pools) await p.close()
    await db?.drop()
  })

  /** 500 rows due at once, spread unevenly over the subscriptions (the first holds a third of them). */
  async function enqueue(prefix: string, at: number) {
    const w = createPostgresWebhookRepo(db.sql)
    await w.insertEvent(`evt_${prefix}`, 1, 'ping', '{"event":"ping"}', at)
    await db.sql`INSERT INTO webhook_deliveries (id, site_id, subscription_id, event_id, event, status, next_attempt_ms, created_ms, updated_ms)
      SELECT ${prefix}::text || '_' || i, 1, CASE WHEN i % 3 = 0 THEN 1 ELSE 1 + i % ${SUBSCRIPTIONS}::int END, ${`evt_${prefix}`}, 'ping', 'pending', ${at}::bigint + i % 7, ${at}, ${at}
      FROM generate_series(1, ${ROWS}) AS i`
  }

  test('two instances claim 500 due rows between them: each once, all of them, at most N per subscription at any time', async () => {
    const at = T + 5_000_000
    await enqueue('race', at)
    const perSubscription = 3
    const claimedBy = new Map<number, number>()
    const perInstance = [0, 0]
    const inFlight = new Map<number, number>()
    let maxInFlight = 0
    let maxLive = 0
    let stop = false
    // A third connection watches the live leases per subscription while the workers run.
    const watcher = (async () => {
      while (!stop) {
        const rows = await db.sql`SELECT subscription_id, COUNT(*)::int AS n FROM webhook_deliveries WHERE lease_until_ms > ${at + 10} GROUP BY subscription_id`
        for (const r of rows) maxLive = Math.max(maxLive, r.n)
        await Bun.sleep(1)
      }
    })()
    const worker = async (instance: number) => {
      const repo = createPostgresWebhookRepo(pools[instance] as SQL)
      let sending: { seq: number; subscription_id: number; attempts: number }[] = []
      let idle = 0
      while (idle < 3) {
        const finished: FinishedAttempt[] = sending.map((r) => ({
          record: outcome(r.seq, r.attempts + 1, at + 10, 'succeeded', null, 200),
          subscriptionId: r.subscription_id,
          gone: false,
        }))
        for (const r of sending) inFlight.set(r.subscription_id, (inFlight.get(r.subscription_id) ?? 0) - 1)
        const cycle = await repo.recordAndClaim(finished, at + 10, { max: 8, perSubscription, leaseMs: 60_000, onlySubscriptions: null })
        perInstance[instance] = (perInstance[instance] ?? 0) + cycle.claimed.length
        for (const r of cycle.claimed) {
          claimedBy.set(r.seq, (claimedBy.get(r.seq) ?? 0) + 1)
          const n = (inFlight.get(r.subscription_id) ?? 0) + 1
          inFlight.set(r.subscription_id, n)
          maxInFlight = Math.max(maxInFlight, n)
        }
        sending = cycle.claimed
        idle = sending.length === 0 ? idle + 1 : 0
        // "Sending" takes a moment, different per instance, so the two interleave.
        await Bun.sleep(instance === 0 ? 0 : 1)
      }
    }
    await Promise.all([worker(0), worker(1)])
    stop = true
    await watcher
    expect(claimedBy.size).toBe(ROWS)
    expect([...claimedBy.values()].every((n) => n === 1)).toBe(true)
    // Both instances took part. (How evenly depends on scheduling: on a loaded 2-core machine one
    // claimer took 83 of 500 once; the guarantees are the three checks above, not the split.)
    expect(Math.min(...perInstance)).toBeGreaterThan(ROWS / 20)
    expect(maxInFlight).toBeLessThanOrEqual(perSubscription)
    expect(maxLive).toBeLessThanOrEqual(perSubscription)
    expect(maxLive).toBeGreaterThan(0)
    const [left] =
      await db.sql`SELECT COUNT(*)::int AS n FROM webhook_deliveries WHERE id LIKE 'race_%' AND (status <> 'succeeded' OR lease_until_ms IS NOT NULL)`
    expect(left.n).toBe(0)
    const [attempts] = await db.sql`SELECT COUNT(*)::int AS n, COUNT(DISTINCT delivery_seq)::int AS d FROM webhook_attempts`
    expect(attempts).toEqual({ n: ROWS, d: ROWS })
  })

  test('a lease is honoured until it ends, then the row is claimed again (a crashed sender)', async () => {
    const at = T + 6_000_000
    const w = createPostgresWebhookRepo(db.sql)
    await w.insertEvent('evt_crash', 1, 'ping', '{}', at)
    await w.insertDelivery('dlv_crash', 1, 2, 'evt_crash', 'ping', at)
    const [a, b] = pools.map((p) => createPostgresWebhookRepo(p)) as [Repo, Repo]
    const limits: ClaimLimits = { max: 10, perSubscription: 5, leaseMs: 30_000, onlySubscriptions: [2] }
    const first = await a.recordAndClaim([], at, limits)
    expect(first.claimed.map((r) => r.id)).toEqual(['dlv_crash'])
    // Instance a "crashes": it never records. b finds nothing while the lease is live...
    expect((await b.recordAndClaim([], at + 29_999, limits)).claimed).toEqual([])
    expect((await b.recordAndClaim([], at + 29_999, { ...limits, onlySubscriptions: null })).claimed.some((r) => r.id === 'dlv_crash')).toBe(false)
    // ...and takes it over when the lease ends.
    const again = await b.recordAndClaim([], at + 30_000, limits)
    expect(again.claimed.map((r) => [r.id, r.attempts])).toEqual([['dlv_crash', 0]])
    expect((await w.getDelivery(1, 'dlv_crash'))?.lease_until_ms).toBe(at + 60_000)
  })

  test('retention waits for a retry committing meanwhile and keeps that delivery and its event', async () => {
    const at = T + 7_000_000
    const w = createPostgresWebhookRepo(db.sql)
    await w.insertEvent('evt_keep', 1, 'ping', '{}', at)
    await w.insertDelivery('dlv_keep', 1, 2, 'evt_keep', 'ping', at)
    const seq = (await w.getDelivery(1, 'dlv_keep'))?.seq as number
    await w.recordAttempt(outcome(seq, 1, at, 'succeeded', null, 200), at)
    // A retry is in flight in another transaction when retention runs.
    let release = () => {}
    const held = new Promise<void>((r) => {
      release = r
    })
    let requeued: unknown = null
    const retry = (pools[0] as SQL).begin(async (tx) => {
      requeued = await createPostgresWebhookRepo(tx).requeueDelivery(1, 'dlv_keep', at + 1)
      await held
    })
    await Bun.sleep(50)
    const pruner = createPostgresWebhookRepo(pools[1] as SQL)
    const pruning = pruner.pruneFinishedDeliveries(at + 10, 100)
    await Bun.sleep(100)
    release()
    await retry
    // Other finished deliveries of this database may go; this one stays, due again, with its event.
    await pruning
    await pruner.pruneEvents(at + 10, null, 1000)
    expect(requeued).not.toBeNull()
    expect(await w.getEvent('evt_keep')).not.toBeNull()
    expect((await w.getDelivery(1, 'dlv_keep'))?.next_attempt_ms).toBe(at + 1)
  })
})
