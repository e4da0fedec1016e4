/** The delivery log of a site's webhooks, and replay: plain functions over the webhook repository. */
import { type Clock, isoUtc } from '../../clock'
import { webhookSubscriptionLock } from '../../db/lock-keys'
import type { AttemptRow, DeliveryRow } from '../../db/rows'
import type { Repositories, Store } from '../../db/store'
import { BadRequestError, ConflictError, NotFoundError } from '../../errors'
import type { WebhookDispatcher } from '../../webhooks/dispatcher'
import type { Attempt, Delivery, DeliveryDetail, ListDeliveriesQuery } from './model'

export interface DeliveryDeps {
  store: Store
  clock: Clock
  webhooks: WebhookDispatcher
}

const iso = (ms: number | null) => (ms === null ? null : isoUtc(ms))

function present(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    event_id: row.event_id,
    event: row.event,
    subscription_id: row.subscription_id,
    status: row.status,
    attempts: row.attempts,
    next_attempt_utc: iso(row.next_attempt_ms),
    last_attempt_utc: iso(row.last_attempt_ms),
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    created_utc: isoUtc(row.created_ms),
  }
}

function presentAttempt(row: AttemptRow): Attempt {
  return {
    number: row.number,
    at: isoUtc(row.at_ms),
    url: row.url,
    duration_ms: row.duration_ms,
    status_code: row.status_code,
    error: row.error,
    error_message: row.error_message,
    request_headers: JSON.parse(row.request_headers) as Record<string, string>,
    response_body: row.response_body,
  }
}

function encodeCursor(seq: number): string {
  return Buffer.from(`dlv:${seq}`).toString('base64url')
}

function decodeCursor(cursor: string): number {
  const m = /^dlv:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (!m) throw new BadRequestError('cursor is not a next_cursor this API returned', 'cursor')
  return Number(m[1])
}

/** A page of a site's deliveries, newest first. */
export async function listDeliveries(deps: DeliveryDeps, siteId: number, q: ListDeliveriesQuery) {
  const limit = q.limit ?? 20
  const rows = await deps.store.webhooks.listDeliveries(siteId, {
    subscriptionId: q.subscription_id ?? null,
    status: q.status ?? null,
    event: q.event ?? null,
    beforeSeq: q.cursor ? decodeCursor(q.cursor) : null,
    limit: limit + 1,
  })
  const has_more = rows.length > limit
  const shown = has_more ? rows.slice(0, limit) : rows
  const last = shown.at(-1)
  return { items: shown.map(present), has_more, next_cursor: has_more && last ? encodeCursor(last.seq) : null }
}

async function mustGet(store: Repositories, siteId: number, id: string): Promise<DeliveryRow> {
  const row = await store.webhooks.getDelivery(siteId, id)
  if (!row) throw new NotFoundError(`No webhook delivery with id ${id}.`, 'id')
  return row
}

/** One delivery with its attempt log. */
export async function getDelivery(deps: DeliveryDeps, siteId: number, id: string): Promise<DeliveryDetail> {
  const row = await mustGet(deps.store, siteId, id)
  return { ...present(row), attempt_log: (await deps.store.webhooks.attemptsOf(row.seq)).map(presentAttempt) }
}

/** Re-queues a delivery (dead ones included) for an immediate attempt with the same event id. */
export async function retryDelivery(deps: DeliveryDeps, siteId: number, id: string): Promise<Delivery> {
  // The subscription's state is read in the transaction that requeues, under the subscription's
  // lock (a PATCH deactivating it takes the same), so a deactivation is not passed by.
  const row = await deps.store.transaction(async (tx) => {
    const current = await mustGet(tx, siteId, id)
    await tx.lock(webhookSubscriptionLock(siteId, current.subscription_id))
    const sub = await tx.webhooks.getSubscription(siteId, current.subscription_id)
    if (sub?.active !== 1) throw new ConflictError(`Webhook subscription ${current.subscription_id} is inactive; set active to true first.`, 'id')
    return tx.webhooks.requeueDelivery(siteId, id, deps.clock.now())
  })
  if (!row) throw new ConflictError('This delivery is being attempted right now; retry after the attempt ends.', 'id')
  deps.webhooks.wake()
  return present(row)
}
