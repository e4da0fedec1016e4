/**
 * Webhook subscriptions, events, deliveries and attempts on PostgreSQL: the SQLite repo's rows and
 * answers, and a claim that the workers of several instances can run at the same time.
 *
 * SQLite has one writer, so its worker counts and leases inside a write transaction nobody else
 * can enter. Here each claim is a short transaction (never open across an HTTP send): due rows are
 * read `FOR UPDATE SKIP LOCKED` (rows another claimer is taking are skipped, not waited for) and
 * their lease is written before the commit; a subscription's live leases are counted only while
 * holding its claim lock (a transaction-scoped advisory lock), so the per-subscription limit holds
 * over all instances. An expired lease makes its row claimable again (a crashed sender's rows).
 */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import { webhookSubscriptionLock } from '../lock-keys'
import type {
  AttemptRecord,
  AttemptRow,
  ClaimCycle,
  ClaimLimits,
  DeliveryRow,
  EventRow,
  FinishedAttempt,
  SendableRow,
  SubscriptionRow,
  WebhookRepo,
} from '../rows'
import { lockInTransaction } from './advisory-lock'
import { atomically } from './atomic'
import { sqliteLimit } from './limit'
import { allRows, bigintColumns, firstOrNull } from './rows'
import { createPostgresWebhookEventStatements } from './webhook-events'

const subscription = bigintColumns<SubscriptionRow>('id', 'site_id', 'previous_secret_until_ms', 'created_ms', 'updated_ms')
const activeSubscription = bigintColumns<{ id: number; events: string }>('id')
const event = bigintColumns<EventRow>('site_id', 'created_ms')
const delivery = bigintColumns<DeliveryRow>(
  'seq',
  'site_id',
  'subscription_id',
  'next_attempt_ms',
  'lease_until_ms',
  'last_attempt_ms',
  'created_ms',
  'updated_ms',
)
const attempt = bigintColumns<AttemptRow>('id', 'delivery_seq', 'at_ms')
const sendable = bigintColumns<SendableRow>('seq', 'subscription_id', 'previous_secret_until_ms')
const dueRow = bigintColumns<{ seq: number; subscription_id: number }>('seq', 'subscription_id')
const msRow = bigintColumns<{ ms: number | null }>('ms')
const stats = bigintColumns<{ depth: number; oldest_created_ms: number | null; in_flight: number; due: number; oldest_due_ms: number | null }>(
  'depth',
  'oldest_created_ms',
  'in_flight',
  'due',
  'oldest_due_ms',
)

/** Rows read per claim scan (the SQLite repo's batch). */
const CLAIM_BATCH = 256
/** First key of the per-subscription claim locks ("mlcw"); the second is the subscription id. */
const CLAIM_LOCK_NAMESPACE = 0x6d6c6377
/** The reason written on a 410 Gone subscription's queued rows (the SQLite repo's words). */
const GONE_REASON = 'subscription deactivated: the endpoint answered 410 Gone'

/**
 * The claim's transaction. READ COMMITTED is required, and asked for: each statement then sees
 * what other claimers committed before it began, which is what makes counting leases after taking
 * a subscription's claim lock exact. Inside a caller's transaction it is a savepoint (the caller's
 * transaction must then be READ COMMITTED, PostgreSQL's default).
 */
function claimTransaction<T>(sql: SQL, work: (tx: SQL) => Promise<T>): Promise<T> {
  if (typeof (sql as { savepoint?: unknown }).savepoint === 'function') return atomically(sql, work)
  return sql.begin('isolation level read committed', work) as Promise<T>
}

/** Writes attempts and the deliveries' new states (lease released) in one statement; a row deleted meanwhile gets no attempt. */
async function recordAttempts(sql: SQL, records: AttemptRecord[], nowMs: number): Promise<void> {
  if (records.length === 0) return
  // One JSON parameter carries the batch (nulls included); the ordinality keeps attempt ids in batch order, as SQLite assigns them.
  await sql`
    WITH r AS (
      SELECT (e->>'seq')::bigint AS seq, (e->>'number')::int AS number, e->>'url' AS url, (e->>'atMs')::bigint AS at_ms,
             (e->>'durationMs')::int AS duration_ms, (e->>'statusCode')::int AS status_code, e->>'error' AS error,
             e->>'errorMessage' AS error_message, e->>'requestHeaders' AS request_headers, e->>'responseBody' AS response_body,
             e->>'status' AS status, (e->>'nextAttemptMs')::bigint AS next_attempt_ms, o
      FROM jsonb_array_elements(${JSON.stringify(records)}::text::jsonb) WITH ORDINALITY AS t(e, o)
    ), attempts AS (
      INSERT INTO webhook_attempts (delivery_seq, number, url, at_ms, duration_ms, status_code, error, error_message, request_headers, response_body)
      SELECT d.seq, r.number, r.url, r.at_ms, r.duration_ms, r.status_code, r.error, r.error_message, r.request_headers, r.response_body
      FROM r JOIN webhook_deliveries d ON d.seq = r.seq ORDER BY r.o
    )
    UPDATE webhook_deliveries d SET status = r.status, attempts = r.number, next_attempt_ms = r.next_attempt_ms, lease_until_ms = NULL,
      last_attempt_ms = r.at_ms, last_status_code = r.status_code, last_error = r.error, updated_ms = ${nowMs}
    FROM r WHERE d.seq = r.seq`
}

/** Dead-letters a subscription's unfinished, unclaimed deliveries; how many. */
async function deadLetterQueued(sql: SQL, subscriptionId: number, reason: string, nowMs: number): Promise<number> {
  const rows = await sql`UPDATE webhook_deliveries SET status = 'dead', next_attempt_ms = NULL, last_error = ${reason}, updated_ms = ${nowMs}
    WHERE subscription_id = ${subscriptionId} AND next_attempt_ms IS NOT NULL AND lease_until_ms IS NULL RETURNING seq`
  return rows.length
}

/** Deactivates a subscription; true if it was active. */
async function disable(sql: SQL, id: number, reason: string, nowMs: number): Promise<boolean> {
  const rows =
    await sql`UPDATE webhook_subscriptions SET active = 0, disabled_reason = ${reason}, updated_ms = ${nowMs} WHERE id = ${id} AND active = 1 RETURNING id`
  return rows.length > 0
}

/**
 * Leases the rows `seqs` (this transaction holds their row locks) and returns what sending them
 * needs, in the order of `seqs`.
 */
async function leaseLocked(tx: SQL, seqs: number[], untilMs: number): Promise<SendableRow[]> {
  const rows = allRows(
    await tx`
      WITH l AS (UPDATE webhook_deliveries SET lease_until_ms = ${untilMs} WHERE seq = ANY(${seqs}::bigint[])
                 RETURNING seq, id, event_id, event, attempts, subscription_id)
      SELECT l.seq, l.id, l.event_id, l.event, l.attempts, e.body, l.subscription_id, s.url, s.active, s.secret, s.previous_secret, s.previous_secret_until_ms
      FROM l JOIN webhook_events e ON e.id = l.event_id JOIN webhook_subscriptions s ON s.id = l.subscription_id`,
    sendable,
  )
  const order = new Map(seqs.map((seq, i) => [seq, i]))
  return rows.sort((a, b) => (order.get(a.seq) as number) - (order.get(b.seq) as number))
}

/**
 * Leases due rows within `limits`, oldest due first, in the SQLite repo's order and batches (so
 * one claimer takes exactly the rows SQLite would). Runs inside the claim transaction.
 */
async function claimDue(tx: SQL, nowMs: number, limits: ClaimLimits): Promise<{ claimed: SendableRow[]; exhausted: boolean }> {
  let free = limits.max
  if (free <= 0) return { claimed: [], exhausted: false }
  const untilMs = nowMs + limits.leaseMs
  /** Live leases (this claim's included) of the subscriptions whose claim lock this transaction holds. */
  const leases = new Map<number, number>()
  /** Subscriptions another claimer is claiming right now: skipped this time, that claimer serves them. */
  const busyElsewhere = new Set<number>()
  const claimed: SendableRow[] = []

  // Takes the claim locks of subscriptions not seen yet (never waiting), then counts their live
  // leases. The count must be a statement of its own, after the lock: under READ COMMITTED its
  // snapshot then includes every lease the previous holder of the lock committed.
  const admit = async (subs: number[]) => {
    const fresh = [...new Set(subs)].filter((s) => !leases.has(s) && !busyElsewhere.has(s))
    if (fresh.length === 0) return
    const locked = (
      await tx`SELECT s FROM unnest(${fresh}::bigint[]) AS s WHERE pg_try_advisory_xact_lock(${CLAIM_LOCK_NAMESPACE}, (s % 2147483648)::int)`
    ).map((r: { s: string | number }) => Number(r.s))
    const held = new Set(locked)
    for (const s of fresh) {
      if (held.has(s)) leases.set(s, 0)
      else busyElsewhere.add(s)
    }
    if (locked.length === 0) return
    const counts = await tx`SELECT subscription_id, COUNT(*) AS n FROM webhook_deliveries
      WHERE lease_until_ms > ${nowMs} AND subscription_id = ANY(${locked}::bigint[]) GROUP BY subscription_id`
    for (const r of counts) leases.set(Number(r.subscription_id), Number(r.n))
  }
  const lease = async (rows: { seq: number; subscription_id: number }[]) => {
    await admit(rows.map((r) => r.subscription_id))
    const batch: number[] = []
    for (const row of rows) {
      if (free <= 0) break
      const n = leases.get(row.subscription_id)
      if (n === undefined || n >= limits.perSubscription) continue
      leases.set(row.subscription_id, n + 1)
      batch.push(row.seq)
      free--
    }
    if (batch.length) claimed.push(...(await leaseLocked(tx, batch, untilMs)))
  }

  let exhausted = false
  if (limits.onlySubscriptions === null) {
    while (free > 0) {
      const skip = [...busyElsewhere, ...[...leases].filter(([, n]) => n >= limits.perSubscription).map(([id]) => id)]
      const limit = Math.min(CLAIM_BATCH, free * 2)
      const rows = allRows(
        await tx`SELECT seq, subscription_id FROM webhook_deliveries
          WHERE next_attempt_ms IS NOT NULL AND next_attempt_ms <= ${nowMs} AND (lease_until_ms IS NULL OR lease_until_ms <= ${nowMs})
            AND subscription_id <> ALL(${skip}::bigint[])
          ORDER BY next_attempt_ms, subscription_id, lease_until_ms NULLS FIRST, seq LIMIT ${limit}
          FOR UPDATE SKIP LOCKED`,
        dueRow,
      )
      // Every row read is now leased or belongs to a subscription the next scan skips: each scan makes progress.
      await lease(rows)
      if (rows.length < limit) {
        exhausted = free > 0
        break
      }
    }
  } else {
    for (const sub of limits.onlySubscriptions) {
      if (free <= 0) break
      await admit([sub])
      const n = leases.get(sub)
      if (n === undefined || n >= limits.perSubscription) continue
      const rows = allRows(
        await tx`SELECT seq, subscription_id FROM webhook_deliveries
          WHERE subscription_id = ${sub} AND next_attempt_ms IS NOT NULL AND next_attempt_ms <= ${nowMs} AND (lease_until_ms IS NULL OR lease_until_ms <= ${nowMs})
          ORDER BY next_attempt_ms, lease_until_ms NULLS FIRST, seq LIMIT ${Math.min(limits.perSubscription - n, free)}
          FOR UPDATE SKIP LOCKED`,
        dueRow,
      )
      await lease(rows)
    }
  }
  return { claimed, exhausted }
}

/** Statements over the webhook tables. */
export function createPostgresWebhookRepo(sql: SQL): AsyncRepo<WebhookRepo> {
  return {
    ...createPostgresWebhookEventStatements(sql),
    listSubscriptions: async (siteId) => allRows(await sql`SELECT * FROM webhook_subscriptions WHERE site_id = ${siteId} ORDER BY id`, subscription),
    getSubscription: async (siteId, id) => firstOrNull(await sql`SELECT * FROM webhook_subscriptions WHERE site_id = ${siteId} AND id = ${id}`, subscription),
    countSubscriptions: async (siteId) => Number((await sql`SELECT COUNT(*) AS n FROM webhook_subscriptions WHERE site_id = ${siteId}`)[0].n),
    // SQLite reads these through its (site_id, id) index: by id.
    activeSubscriptions: async (siteId) =>
      allRows(await sql`SELECT id, events FROM webhook_subscriptions WHERE site_id = ${siteId} AND active = 1 ORDER BY id`, activeSubscription),
    insertSubscription: async (siteId, url, events, description, secret, nowMs) =>
      subscription(
        (
          await sql`INSERT INTO webhook_subscriptions (site_id, url, events, description, secret, created_ms, updated_ms)
                    VALUES (${siteId}, ${url}, ${events}, ${description}, ${secret}, ${nowMs}, ${nowMs}) RETURNING *`
        )[0],
      ),
    updateSubscription: async (siteId, id, f, nowMs) =>
      firstOrNull(
        await sql`UPDATE webhook_subscriptions SET url = ${f.url}, events = ${f.events}, description = ${f.description}, active = ${f.active ? 1 : 0},
                    disabled_reason = ${f.disabledReason}, updated_ms = ${nowMs}
                  WHERE site_id = ${siteId} AND id = ${id} RETURNING *`,
        subscription,
      ),
    rotateSecret: async (siteId, id, secret, graceUntilMs, nowMs) =>
      firstOrNull(
        await sql`UPDATE webhook_subscriptions SET previous_secret = secret, secret = ${secret}, previous_secret_until_ms = ${graceUntilMs}, updated_ms = ${nowMs}
                  WHERE site_id = ${siteId} AND id = ${id} RETURNING *`,
        subscription,
      ),
    removeSubscription: async (siteId, id) => (await sql`DELETE FROM webhook_subscriptions WHERE site_id = ${siteId} AND id = ${id} RETURNING id`).length > 0,
    disableSubscription: async (id, reason, nowMs) => disable(sql, id, reason, nowMs),

    insertEvent: async (id, siteId, type, body, nowMs, visitorKey = null) => {
      await sql`INSERT INTO webhook_events (id, site_id, type, body, created_ms, visitor_key) VALUES (${id}, ${siteId}, ${type}, ${body}, ${nowMs}, ${visitorKey})`
    },
    getEvent: async (id) => firstOrNull(await sql`SELECT * FROM webhook_events WHERE id = ${id}`, event),
    insertDelivery: async (id, siteId, subscriptionId, eventId, eventType, nowMs) => {
      await sql`INSERT INTO webhook_deliveries (id, site_id, subscription_id, event_id, event, status, next_attempt_ms, created_ms, updated_ms)
                VALUES (${id}, ${siteId}, ${subscriptionId}, ${eventId}, ${eventType}, 'pending', ${nowMs}, ${nowMs}, ${nowMs})`
    },
    // Each filter is a fragment present only when set, so each combination gets a plan that uses its index.
    listDeliveries: async (siteId, f) => {
      const bySubscription = f.subscriptionId !== null ? sql`AND subscription_id = ${f.subscriptionId}` : sql``
      const byStatus = f.status !== null ? sql`AND status = ${f.status}` : sql``
      const byEvent = f.event !== null ? sql`AND event = ${f.event}` : sql``
      const before = f.beforeSeq !== null ? sql`AND seq < ${f.beforeSeq}` : sql``
      return allRows(
        await sql`SELECT * FROM webhook_deliveries WHERE site_id = ${siteId} ${bySubscription} ${byStatus} ${byEvent} ${before}
                  ORDER BY seq DESC LIMIT ${sqliteLimit(f.limit)}`,
        delivery,
      )
    },
    getDelivery: async (siteId, id) => firstOrNull(await sql`SELECT * FROM webhook_deliveries WHERE site_id = ${siteId} AND id = ${id}`, delivery),
    attemptsOf: async (seq) => allRows(await sql`SELECT * FROM webhook_attempts WHERE delivery_seq = ${seq} ORDER BY id`, attempt),
    // The lease condition is re-checked on the row's newest version when a claim commits first, so a
    // row being sent is never made due under its sender.
    requeueDelivery: async (siteId, id, nowMs) =>
      firstOrNull(
        await sql`UPDATE webhook_deliveries SET status = 'pending', next_attempt_ms = ${nowMs}, updated_ms = ${nowMs}
                  WHERE site_id = ${siteId} AND id = ${id} AND (lease_until_ms IS NULL OR lease_until_ms <= ${nowMs}) RETURNING *`,
        delivery,
      ),
    deadLetterPending: async (subscriptionId, reason, nowMs) => deadLetterQueued(sql, subscriptionId, reason, nowMs),
    queueStats: async (nowMs) =>
      stats(
        (
          await sql`SELECT COUNT(*) AS depth, MIN(created_ms) AS oldest_created_ms,
                      COALESCE(SUM(CASE WHEN lease_until_ms > ${nowMs} THEN 1 ELSE 0 END), 0) AS in_flight,
                      COUNT(*) FILTER (WHERE next_attempt_ms <= ${nowMs}) AS due,
                      MIN(next_attempt_ms) FILTER (WHERE next_attempt_ms <= ${nowMs}) AS oldest_due_ms
                    FROM webhook_deliveries WHERE next_attempt_ms IS NOT NULL`
        )[0],
      ),

    // The SQLite worker's synchronous transaction over this repo's own statements has no
    // PostgreSQL meaning (statements on a pool do not share a connection): the worker's cycle is
    // `recordAndClaim`, and other multi-statement work belongs to the store's transaction.
    transaction: async () => {
      throw new Error('webhooks.transaction(fn) is SQLite-only: use recordAndClaim, or the store transaction on PostgreSQL')
    },
    dueRows: async (nowMs, limit, exclude) =>
      allRows(
        await sql`SELECT seq, subscription_id FROM webhook_deliveries
                  WHERE next_attempt_ms IS NOT NULL AND next_attempt_ms <= ${nowMs} AND (lease_until_ms IS NULL OR lease_until_ms <= ${nowMs})
                    AND subscription_id <> ALL(${exclude}::bigint[])
                  ORDER BY next_attempt_ms, subscription_id, lease_until_ms NULLS FIRST, seq LIMIT ${sqliteLimit(limit)}`,
        dueRow,
      ),
    dueRowsFor: async (subscriptionId, nowMs, limit) =>
      allRows(
        await sql`SELECT seq, subscription_id FROM webhook_deliveries
                  WHERE subscription_id = ${subscriptionId} AND next_attempt_ms IS NOT NULL AND next_attempt_ms <= ${nowMs}
                    AND (lease_until_ms IS NULL OR lease_until_ms <= ${nowMs})
                  ORDER BY next_attempt_ms, lease_until_ms NULLS FIRST, seq LIMIT ${sqliteLimit(limit)}`,
        dueRow,
      ),
    // One statement: the conditional UPDATE is re-checked on the newest row version when another
    // claimer committed first, so of two racing claimers only one leases a row.
    leaseMany: async (seqs, untilMs, nowMs) => {
      if (seqs.length === 0) return []
      return allRows(
        await sql`
          WITH l AS (UPDATE webhook_deliveries SET lease_until_ms = ${untilMs}
                     WHERE seq = ANY(${seqs}::bigint[]) AND next_attempt_ms IS NOT NULL AND next_attempt_ms <= ${nowMs}
                       AND (lease_until_ms IS NULL OR lease_until_ms <= ${nowMs})
                     RETURNING seq, id, event_id, event, attempts, subscription_id, next_attempt_ms)
          SELECT l.seq, l.id, l.event_id, l.event, l.attempts, e.body, l.subscription_id, s.url, s.active, s.secret, s.previous_secret, s.previous_secret_until_ms
          FROM l JOIN webhook_events e ON e.id = l.event_id JOIN webhook_subscriptions s ON s.id = l.subscription_id
          ORDER BY l.next_attempt_ms, l.seq`,
        sendable,
      )
    },
    recordAttempt: async (r, nowMs) => recordAttempts(sql, [r], nowMs),
    releaseLease: async (seq) => {
      await sql`UPDATE webhook_deliveries SET lease_until_ms = NULL WHERE seq = ${seq}`
    },
    deadLetter: async (seq, reason, nowMs) => {
      await sql`UPDATE webhook_deliveries SET status = 'dead', next_attempt_ms = NULL, lease_until_ms = NULL, last_error = ${reason}, updated_ms = ${nowMs}
                WHERE seq = ${seq}`
    },
    nextWakeMs: async (nowMs) => {
      // One round trip for the SQLite repo's three reads.
      const [r] = await sql`SELECT
          (SELECT MIN(next_attempt_ms) FROM webhook_deliveries WHERE next_attempt_ms IS NOT NULL) AS next,
          (SELECT MIN(next_attempt_ms) FROM webhook_deliveries WHERE next_attempt_ms IS NOT NULL AND next_attempt_ms > ${nowMs}) AS later,
          (SELECT MIN(lease_until_ms) FROM webhook_deliveries WHERE lease_until_ms IS NOT NULL) AS lease`
      const next = msRow({ ms: r.next }).ms
      const candidates: number[] = []
      if (next !== null && next > nowMs) candidates.push(next)
      else if (next !== null) {
        const later = msRow({ ms: r.later }).ms
        if (later !== null) candidates.push(later)
        const lease = msRow({ ms: r.lease }).ms
        if (lease !== null) candidates.push(lease)
      }
      return candidates.length ? Math.min(...candidates) : null
    },
    recordAndClaim: async (finished: FinishedAttempt[], nowMs: number, limits: ClaimLimits): Promise<ClaimCycle> =>
      claimTransaction(sql, async (tx) => {
        const gone = [...new Set(finished.filter((f) => f.gone).map((f) => f.subscriptionId))].sort((a, b) => a - b)
        // A 410 Gone locks its subscription before any delivery row: two claimers seeing the same
        // endpoint gone then queue on the subscription instead of deadlocking on each other's rows.
        // First the subscription's TxStore.lock (in id order, before any row lock), the one a PATCH
        // takes before reading it: a PATCH in flight would otherwise write `active` back over the disable.
        if (gone.length) {
          const subs: { id: unknown; site_id: unknown }[] =
            await tx`SELECT id, site_id FROM webhook_subscriptions WHERE id = ANY(${gone}::bigint[]) ORDER BY id`
          for (const s of subs) await lockInTransaction(tx, webhookSubscriptionLock(Number(s.site_id), Number(s.id)))
          await tx`SELECT id FROM webhook_subscriptions WHERE id = ANY(${gone}::bigint[]) ORDER BY id FOR NO KEY UPDATE`
        }
        await recordAttempts(
          tx,
          finished.map((f) => f.record),
          nowMs,
        )
        const deactivated: ClaimCycle['deactivated'] = []
        for (const f of finished) {
          if (f.gone && (await disable(tx, f.subscriptionId, 'gone', nowMs))) {
            deactivated.push({ subscriptionId: f.subscriptionId, deadLettered: await deadLetterQueued(tx, f.subscriptionId, GONE_REASON, nowMs) })
          }
        }
        const { claimed, exhausted } = await claimDue(tx, nowMs, limits)
        return { claimed, deactivated, exhausted }
      }),
  }
}
