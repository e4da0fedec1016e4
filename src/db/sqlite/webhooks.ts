/**
 * Webhook subscriptions, events, deliveries and attempts. The request thread uses the site-scoped
 * statements; the worker thread (its own connection) uses the claim / record statements, which
 * take a lease with a conditional UPDATE so two claimers can never send the same row at once.
 */
import type { Database } from 'bun:sqlite'
import { createWebhookEventStatements } from './webhook-events'

export interface SubscriptionRow {
  id: number
  site_id: number
  url: string
  /** JSON array of event types. */
  events: string
  description: string
  active: number
  disabled_reason: string | null
  secret: string
  previous_secret: string | null
  previous_secret_until_ms: number | null
  created_ms: number
  updated_ms: number
}

export interface EventRow {
  id: string
  site_id: number
  type: string
  body: string
  created_ms: number
  /** The visitor the event is about (its body's `visitor.key`); null when none, or once erased. */
  visitor_key: string | null
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'dead'

export interface DeliveryRow {
  seq: number
  id: string
  site_id: number
  subscription_id: number
  event_id: string
  event: string
  status: DeliveryStatus
  attempts: number
  next_attempt_ms: number | null
  lease_until_ms: number | null
  last_attempt_ms: number | null
  last_status_code: number | null
  last_error: string | null
  created_ms: number
  updated_ms: number
}

export interface AttemptRow {
  id: number
  delivery_seq: number
  number: number
  url: string
  at_ms: number
  duration_ms: number
  status_code: number | null
  error: string | null
  error_message: string | null
  /** JSON object of the request headers sent (no secret is ever among them). */
  request_headers: string
  response_body: string | null
}

/** Everything the worker needs to send one claimed delivery. */
export interface SendableRow {
  seq: number
  id: string
  event_id: string
  event: string
  attempts: number
  body: string
  subscription_id: number
  url: string
  active: number
  secret: string
  previous_secret: string | null
  previous_secret_until_ms: number | null
}

/** The outcome of one attempt, written with the delivery's new state in one statement pair. */
export interface AttemptRecord {
  seq: number
  number: number
  url: string
  atMs: number
  durationMs: number
  statusCode: number | null
  error: string | null
  errorMessage: string | null
  requestHeaders: string
  responseBody: string | null
  status: DeliveryStatus
  nextAttemptMs: number | null
}

export interface DeliveryFilter {
  subscriptionId: number | null
  status: string | null
  event: string | null
  /** Only rows with a smaller seq (the cursor). */
  beforeSeq: number | null
  limit: number
}

/** An attempt the worker finished, written by its next claim cycle. */
export interface FinishedAttempt {
  record: AttemptRecord
  subscriptionId: number
  /** The endpoint answered 410 Gone: its subscription is deactivated and its queue dead-lettered. */
  gone: boolean
}

/** How much one claim may take. */
export interface ClaimLimits {
  /** Most rows to claim now (the claimer's free send slots); 0 only records. */
  max: number
  /** Most live leases one subscription may hold, counted over every claimer (every instance's worker). */
  perSubscription: number
  /** A claimed row is leased until `nowMs + leaseMs` (longer than a send may take): nobody claims it again before. */
  leaseMs: number
  /** Claim only rows of these subscriptions (a slot freed after a whole-queue claim came up short); null: the whole queue. */
  onlySubscriptions: number[] | null
}

/** What one worker cycle wrote and claimed. */
export interface ClaimCycle {
  /** The leased rows to send, in claim order: oldest due first. */
  claimed: SendableRow[]
  /** Subscriptions a finished attempt deactivated (410 Gone), with how many of their queued rows were dead-lettered. */
  deactivated: { subscriptionId: number; deadLettered: number }[]
  /** A whole-queue claim stopped with free slots left: nothing else is claimable until something new is due. */
  exhausted: boolean
}

/** Rows read per claim scan. */
const CLAIM_BATCH = 256

/** Prepared statements over the webhook tables. */
export function createWebhookRepo(db: Database) {
  const subList = db.query<SubscriptionRow, [number]>('SELECT * FROM webhook_subscriptions WHERE site_id = ? ORDER BY id')
  const subGet = db.query<SubscriptionRow, [number, number]>('SELECT * FROM webhook_subscriptions WHERE site_id = ? AND id = ?')
  const subCount = db.query<{ n: number }, [number]>('SELECT COUNT(*) AS n FROM webhook_subscriptions WHERE site_id = ?')
  const subActive = db.query<{ id: number; events: string }, [number]>('SELECT id, events FROM webhook_subscriptions WHERE site_id = ? AND active = 1')
  const subInsert = db.query<SubscriptionRow, [number, string, string, string, string, number, number]>(
    'INSERT INTO webhook_subscriptions (site_id, url, events, description, secret, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *',
  )
  const subUpdate = db.query<SubscriptionRow, [string, string, string, number, string | null, number, number, number]>(
    'UPDATE webhook_subscriptions SET url = ?, events = ?, description = ?, active = ?, disabled_reason = ?, updated_ms = ? WHERE site_id = ? AND id = ? RETURNING *',
  )
  const subRotate = db.query<SubscriptionRow, [string, number, number, number, number]>(
    'UPDATE webhook_subscriptions SET previous_secret = secret, secret = ?, previous_secret_until_ms = ?, updated_ms = ? WHERE site_id = ? AND id = ? RETURNING *',
  )
  const subRemove = db.query<{ id: number }, [number, number]>('DELETE FROM webhook_subscriptions WHERE site_id = ? AND id = ? RETURNING id')
  const subDisable = db.query<{ id: number }, [string, number, number]>(
    'UPDATE webhook_subscriptions SET active = 0, disabled_reason = ?, updated_ms = ? WHERE id = ? AND active = 1 RETURNING id',
  )

  const eventInsert = db.query<null, [string, number, string, string, number, string | null]>(
    'INSERT INTO webhook_events (id, site_id, type, body, created_ms, visitor_key) VALUES (?, ?, ?, ?, ?, ?)',
  )
  const eventGet = db.query<EventRow, [string]>('SELECT * FROM webhook_events WHERE id = ?')
  const deliveryInsert = db.query<null, [string, number, number, string, string, number, number, number]>(
    "INSERT INTO webhook_deliveries (id, site_id, subscription_id, event_id, event, status, next_attempt_ms, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
  )
  const deliveryList = db.query<
    DeliveryRow,
    [number, number | null, number | null, string | null, string | null, string | null, string | null, number | null, number | null, number]
  >(
    `SELECT * FROM webhook_deliveries WHERE site_id = ?
       AND (? IS NULL OR subscription_id = ?)
       AND (? IS NULL OR status = ?)
       AND (? IS NULL OR event = ?)
       AND (? IS NULL OR seq < ?)
     ORDER BY seq DESC LIMIT ?`,
  )
  const deliveryGet = db.query<DeliveryRow, [number, string]>('SELECT * FROM webhook_deliveries WHERE site_id = ? AND id = ?')
  const attemptsOf = db.query<AttemptRow, [number]>('SELECT * FROM webhook_attempts WHERE delivery_seq = ? ORDER BY id')
  const deliveryRequeue = db.query<DeliveryRow, [number, number, number, string, number]>(
    `UPDATE webhook_deliveries SET status = 'pending', next_attempt_ms = ?, updated_ms = ?
     WHERE site_id = ? AND id = ? AND (lease_until_ms IS NULL OR lease_until_ms <= ?) RETURNING *`,
  )
  const deadLetterPending = db.query<{ seq: number }, [string, number, number]>(
    `UPDATE webhook_deliveries SET status = 'dead', next_attempt_ms = NULL, last_error = ?, updated_ms = ?
     WHERE subscription_id = ? AND next_attempt_ms IS NOT NULL AND lease_until_ms IS NULL RETURNING seq`,
  )
  const queueStats = db.query<{ depth: number; oldest_created_ms: number | null; in_flight: number }, [number]>(
    `SELECT COUNT(*) AS depth, MIN(created_ms) AS oldest_created_ms,
       COALESCE(SUM(CASE WHEN lease_until_ms > ? THEN 1 ELSE 0 END), 0) AS in_flight
     FROM webhook_deliveries WHERE next_attempt_ms IS NOT NULL`,
  )
  const dueCount = db.query<{ due: number; oldest_due_ms: number | null }, [number]>(
    'SELECT COUNT(*) AS due, MIN(next_attempt_ms) AS oldest_due_ms FROM webhook_deliveries WHERE next_attempt_ms IS NOT NULL AND next_attempt_ms <= ?',
  )

  // Worker side.
  // Both scans read only their covering index. Rows of inactive subscriptions are dead-lettered when
  // it is deactivated, and the send re-checks `active`, so no join is needed here.
  const dueRows = db.query<{ seq: number; subscription_id: number }, [number, number, string, number]>(
    `SELECT seq, subscription_id FROM webhook_deliveries
     WHERE next_attempt_ms IS NOT NULL AND next_attempt_ms <= ? AND (lease_until_ms IS NULL OR lease_until_ms <= ?)
       AND subscription_id NOT IN (SELECT value FROM json_each(?))
     ORDER BY next_attempt_ms LIMIT ?`,
  )
  const dueRowsFor = db.query<{ seq: number; subscription_id: number }, [number, number, number, number]>(
    `SELECT seq, subscription_id FROM webhook_deliveries
     WHERE subscription_id = ? AND next_attempt_ms IS NOT NULL AND next_attempt_ms <= ? AND (lease_until_ms IS NULL OR lease_until_ms <= ?)
     ORDER BY next_attempt_ms LIMIT ?`,
  )
  const takeLeases = db.query<{ seq: number }, [number, string, number, number]>(
    `UPDATE webhook_deliveries SET lease_until_ms = ?
     WHERE seq IN (SELECT value FROM json_each(?)) AND next_attempt_ms IS NOT NULL AND next_attempt_ms <= ? AND (lease_until_ms IS NULL OR lease_until_ms <= ?)
     RETURNING seq`,
  )
  const sendable = db.query<SendableRow, [string]>(
    `SELECT d.seq, d.id, d.event_id, d.event, d.attempts, e.body, d.subscription_id, s.url, s.active, s.secret, s.previous_secret, s.previous_secret_until_ms
     FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id JOIN webhook_subscriptions s ON s.id = d.subscription_id
     WHERE d.seq IN (SELECT value FROM json_each(?)) ORDER BY d.next_attempt_ms`,
  )
  const attemptInsert = db.query<null, [number, string, number, number, number | null, string | null, string | null, string, string | null, number]>(
    `INSERT INTO webhook_attempts (delivery_seq, number, url, at_ms, duration_ms, status_code, error, error_message, request_headers, response_body)
     SELECT seq, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM webhook_deliveries WHERE seq = ?`,
  )
  const deliveryAfterAttempt = db.query<null, [string, number, number | null, number, number | null, string | null, number, number]>(
    `UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_ms = ?, lease_until_ms = NULL,
       last_attempt_ms = ?, last_status_code = ?, last_error = ?, updated_ms = ? WHERE seq = ?`,
  )
  const releaseLease = db.query<null, [number]>('UPDATE webhook_deliveries SET lease_until_ms = NULL WHERE seq = ?')
  const deadLetterOne = db.query<null, [string, number, number]>(
    "UPDATE webhook_deliveries SET status = 'dead', next_attempt_ms = NULL, lease_until_ms = NULL, last_error = ?, updated_ms = ? WHERE seq = ?",
  )
  const earliestNext = db.query<{ ms: number | null }, []>('SELECT MIN(next_attempt_ms) AS ms FROM webhook_deliveries WHERE next_attempt_ms IS NOT NULL')
  const earliestUnleasedAfter = db.query<{ ms: number | null }, [number]>(
    'SELECT MIN(next_attempt_ms) AS ms FROM webhook_deliveries WHERE next_attempt_ms IS NOT NULL AND next_attempt_ms > ?',
  )
  const earliestLeaseEnd = db.query<{ ms: number | null }, []>('SELECT MIN(lease_until_ms) AS ms FROM webhook_deliveries WHERE lease_until_ms IS NOT NULL')
  // Live leases per subscription: the per-subscription limit counts every claimer's rows in flight.
  // Reads the partial lease index, whose live part holds only the rows being sent right now. Left
  // to itself the planner (no statistics) walks the (subscription_id, seq) index instead, to group
  // without sorting: every delivery ever made, on every worker cycle (0.5 ms a cycle at 10,000
  // rows, 1 ms at 30,000: the bench lost a fifth of its deliveries/s). INDEXED BY pins the lease
  // index; were it ever dropped, the statement would fail to compile instead of quietly scanning.
  const liveLeases = db.query<{ subscription_id: number; n: number }, [number]>(
    'SELECT subscription_id, COUNT(*) AS n FROM webhook_deliveries INDEXED BY webhook_deliveries_leased WHERE lease_until_ms > ? GROUP BY subscription_id',
  )

  /**
   * Leases due rows within `limits`, oldest due first (inside the cycle's write transaction, so
   * the live-lease counts cannot change under it). Each scan excludes the subscriptions at their
   * limit, and leases what it chose before the next scan, so every scan makes progress.
   */
  function claimDue(nowMs: number, limits: ClaimLimits): { claimed: SendableRow[]; exhausted: boolean } {
    let free = limits.max
    if (free <= 0) return { claimed: [], exhausted: false }
    const leases = new Map<number, number>()
    for (const r of liveLeases.all(nowMs)) leases.set(r.subscription_id, r.n)
    const chosen: number[] = []
    const lease = (rows: { seq: number; subscription_id: number }[]) => {
      const batch: number[] = []
      for (const row of rows) {
        if (free <= 0) break
        const n = leases.get(row.subscription_id) ?? 0
        if (n >= limits.perSubscription) continue
        leases.set(row.subscription_id, n + 1)
        batch.push(row.seq)
        free--
      }
      if (batch.length) takeLeases.all(nowMs + limits.leaseMs, JSON.stringify(batch), nowMs, nowMs)
      chosen.push(...batch)
    }
    let exhausted = false
    if (limits.onlySubscriptions === null) {
      while (free > 0) {
        const saturated = [...leases].filter(([, n]) => n >= limits.perSubscription).map(([id]) => id)
        const limit = Math.min(CLAIM_BATCH, free * 2)
        const rows = dueRows.all(nowMs, nowMs, JSON.stringify(saturated), limit)
        lease(rows)
        if (rows.length < limit) {
          exhausted = free > 0
          break
        }
      }
    } else {
      for (const sub of limits.onlySubscriptions) {
        if (free <= 0) break
        const room = limits.perSubscription - (leases.get(sub) ?? 0)
        if (room > 0) lease(dueRowsFor.all(sub, nowMs, nowMs, Math.min(room, free)))
      }
    }
    if (chosen.length === 0) return { claimed: [], exhausted }
    const order = new Map(chosen.map((seq, i) => [seq, i]))
    const claimed = sendable.all(JSON.stringify(chosen)).sort((a, b) => (order.get(a.seq) as number) - (order.get(b.seq) as number))
    return { claimed, exhausted }
  }

  return {
    ...createWebhookEventStatements(db),
    /** A site's subscriptions by id. */
    listSubscriptions: (siteId: number) => subList.all(siteId),
    /** One subscription of a site, or null. */
    getSubscription: (siteId: number, id: number) => subGet.get(siteId, id),
    /** How many subscriptions a site has. */
    countSubscriptions: (siteId: number) => subCount.get(siteId)?.n ?? 0,
    /** Active subscriptions of a site with their event lists (for fan-out). */
    activeSubscriptions: (siteId: number) => subActive.all(siteId),
    /** Inserts a subscription. */
    insertSubscription: (siteId: number, url: string, events: string, description: string, secret: string, nowMs: number) =>
      subInsert.get(siteId, url, events, description, secret, nowMs, nowMs) as SubscriptionRow,
    /** Replaces the editable fields; null if it is not the site's. */
    updateSubscription: (
      siteId: number,
      id: number,
      f: { url: string; events: string; description: string; active: boolean; disabledReason: string | null },
      nowMs: number,
    ) => subUpdate.get(f.url, f.events, f.description, f.active ? 1 : 0, f.disabledReason, nowMs, siteId, id),
    /** Makes `secret` current and keeps the old one valid until `graceUntilMs`; null if not the site's. */
    rotateSecret: (siteId: number, id: number, secret: string, graceUntilMs: number, nowMs: number) => subRotate.get(secret, graceUntilMs, nowMs, siteId, id),
    /** Deletes a subscription with its deliveries; false if it is not the site's. */
    removeSubscription: (siteId: number, id: number) => subRemove.get(siteId, id) !== null,
    /** Deactivates a subscription (410 Gone); true if it was active. */
    disableSubscription: (id: number, reason: string, nowMs: number) => subDisable.get(reason, nowMs, id) !== null,

    /**
     * Writes an event row (its body is what every delivery of it sends, and what the feed serves,
     * byte for byte); `visitorKey` is the visitor it is about, found again by an erasure.
     */
    insertEvent: (id: string, siteId: number, type: string, body: string, nowMs: number, visitorKey: string | null = null) =>
      void eventInsert.run(id, siteId, type, body, nowMs, visitorKey),
    /** One event with its stored body, or null. */
    getEvent: (id: string) => eventGet.get(id),
    /** Writes one delivery row, due at once. */
    insertDelivery: (id: string, siteId: number, subscriptionId: number, eventId: string, event: string, nowMs: number) =>
      void deliveryInsert.run(id, siteId, subscriptionId, eventId, event, nowMs, nowMs, nowMs),
    /** A page of a site's deliveries, newest first. */
    listDeliveries: (siteId: number, f: DeliveryFilter) =>
      deliveryList.all(siteId, f.subscriptionId, f.subscriptionId, f.status, f.status, f.event, f.event, f.beforeSeq, f.beforeSeq, f.limit),
    /** One delivery of a site, or null. */
    getDelivery: (siteId: number, id: string) => deliveryGet.get(siteId, id),
    /** The attempts of a delivery, oldest first. */
    attemptsOf: (seq: number) => attemptsOf.all(seq),
    /** Makes a delivery due now unless an attempt is in flight; null when it is leased (or not the site's). */
    requeueDelivery: (siteId: number, id: string, nowMs: number) => deliveryRequeue.get(nowMs, nowMs, siteId, id, nowMs),
    /** Dead-letters a subscription's unfinished, unclaimed deliveries; returns how many. */
    deadLetterPending: (subscriptionId: number, reason: string, nowMs: number) => deadLetterPending.all(reason, nowMs, subscriptionId).length,
    /** Unfinished deliveries: count and oldest creation time; and those due by `nowMs`. */
    queueStats: (nowMs: number) => ({
      ...(queueStats.get(nowMs) ?? { depth: 0, oldest_created_ms: null, in_flight: 0 }),
      ...(dueCount.get(nowMs) ?? { due: 0, oldest_due_ms: null }),
    }),

    /** Runs `fn` in one write transaction (the worker records results and claims rows in one commit). */
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    /** Up to `limit` due, unleased rows, oldest first, skipping the subscriptions in `exclude`. */
    dueRows: (nowMs: number, limit: number, exclude: number[]) => dueRows.all(nowMs, nowMs, JSON.stringify(exclude), limit),
    /** Up to `limit` due, unleased rows of one subscription, oldest first. */
    dueRowsFor: (subscriptionId: number, nowMs: number, limit: number) => dueRowsFor.all(subscriptionId, nowMs, nowMs, limit),
    /**
     * Leases due rows until `untilMs` and returns what is needed to send them (the delivery, its
     * event body, its subscription's URL and secrets). Rows another claimer holds are left out.
     */
    leaseMany: (seqs: number[], untilMs: number, nowMs: number): SendableRow[] => {
      if (seqs.length === 0) return []
      const leased = takeLeases.all(untilMs, JSON.stringify(seqs), nowMs, nowMs).map((r) => r.seq)
      return leased.length ? sendable.all(JSON.stringify(leased)) : []
    },
    /** Records one attempt and the delivery's new state (lease released). */
    recordAttempt: (r: AttemptRecord, nowMs: number) => {
      attemptInsert.run(r.number, r.url, r.atMs, r.durationMs, r.statusCode, r.error, r.errorMessage, r.requestHeaders, r.responseBody, r.seq)
      deliveryAfterAttempt.run(r.status, r.number, r.nextAttemptMs, r.atMs, r.statusCode, r.error, nowMs, r.seq)
    },
    /**
     * One worker cycle in one write transaction: records the finished attempts (410 Gone
     * deactivates the subscription and dead-letters its queue), then leases due rows within
     * `limits` and returns what is needed to send them.
     */
    recordAndClaim: (finished: FinishedAttempt[], nowMs: number, limits: ClaimLimits): ClaimCycle =>
      db
        .transaction((): ClaimCycle => {
          for (const f of finished) {
            const r = f.record
            attemptInsert.run(r.number, r.url, r.atMs, r.durationMs, r.statusCode, r.error, r.errorMessage, r.requestHeaders, r.responseBody, r.seq)
            deliveryAfterAttempt.run(r.status, r.number, r.nextAttemptMs, r.atMs, r.statusCode, r.error, nowMs, r.seq)
          }
          const deactivated: ClaimCycle['deactivated'] = []
          for (const f of finished) {
            if (f.gone && subDisable.get('gone', nowMs, f.subscriptionId) !== null) {
              const reason = 'subscription deactivated: the endpoint answered 410 Gone'
              deactivated.push({ subscriptionId: f.subscriptionId, deadLettered: deadLetterPending.all(reason, nowMs, f.subscriptionId).length })
            }
          }
          const { claimed, exhausted } = claimDue(nowMs, limits)
          return { claimed, deactivated, exhausted }
        })
        .immediate(),
    /** Gives a claimed row back without an attempt (shutdown). */
    releaseLease: (seq: number) => void releaseLease.run(seq),
    /** Dead-letters one row without an attempt (its subscription is gone or inactive). */
    deadLetter: (seq: number, reason: string, nowMs: number) => void deadLetterOne.run(reason, nowMs, seq),
    /** When the worker has something to do next: the earliest retry or the earliest lease to expire. */
    nextWakeMs: (nowMs: number): number | null => {
      const next = earliestNext.get()?.ms ?? null
      const candidates: number[] = []
      if (next !== null && next > nowMs) candidates.push(next)
      else if (next !== null) {
        // Rows already due but not claimable right now are leased: wake when a lease ends or a later row is due.
        const later = earliestUnleasedAfter.get(nowMs)?.ms ?? null
        if (later !== null) candidates.push(later)
        const lease = earliestLeaseEnd.get()?.ms ?? null
        if (lease !== null) candidates.push(lease)
      }
      return candidates.length ? Math.min(...candidates) : null
    },
  }
}
export type WebhookRepo = ReturnType<typeof createWebhookRepo>
