/**
 * The outbox: an event row plus one delivery row per matching active subscription, written in
 * the caller's transaction so nothing is sent for a rolled-back change and nothing is lost for a
 * committed one. After the commit the caller calls `deps.webhooks.wake()`. Every event is stored,
 * wanted by a subscription or not: the event feed (`GET /v1/events`) serves the same body.
 */
import { type Clock, isoUtc } from '../clock'
import type { TxStore } from '../db/store'

/** Event types a subscription can ask for (`*` means all). */
export const EVENT_TYPES = ['handoff', 'feedback', 'ping'] as const
export type WebhookEventType = (typeof EVENT_TYPES)[number]

export interface EnqueueInput {
  siteId: number
  type: WebhookEventType
  /** The event's fields; sent at top level next to `id` and `event`. */
  payload: Record<string, unknown>
  /** Deliver to this subscription only, whatever its event list (the test ping). */
  subscriptionId?: number
}

/**
 * A new prefixed, time-ordered id (`evt_...`, `dlv_...`): a UUIDv7 whose first 48 bits are
 * `nowMs`, the creation time stored with the row (createdMsOfEventId reads it back).
 */
export function newWebhookId(prefix: 'evt' | 'dlv', nowMs: number): string {
  return `${prefix}_${Bun.randomUUIDv7('hex', nowMs).replaceAll('-', '')}`
}

const EVENT_ID = /^evt_([0-9a-f]{12})[0-9a-f]{20}$/

/**
 * The creation time of an event id this API issued (its UUIDv7 timestamp), or null for anything
 * else. Lets a consumer resume the feed after an event even once that event was pruned.
 */
export function createdMsOfEventId(id: string): number | null {
  const m = EVENT_ID.exec(id)
  return m ? Number.parseInt(m[1] as string, 16) : null
}

/** The visitor an event is about: its payload's `visitor.key`, if it has one. */
function visitorKeyOf(payload: Record<string, unknown>): string | null {
  const visitor = payload.visitor as { key?: unknown } | null | undefined
  return typeof visitor === 'object' && visitor !== null && typeof visitor.key === 'string' ? visitor.key : null
}

/** True when a subscription's event list (JSON) includes `type`. */
export function subscribesTo(eventsJson: string, type: string): boolean {
  const events = JSON.parse(eventsJson) as string[]
  return events.includes('*') || events.includes(type)
}

/** The exact body every delivery of an event sends: `id`, `event`, then the payload fields. */
export function eventBody(eventId: string, type: string, payload: Record<string, unknown>, nowMs: number): string {
  const { id: _id, event: _event, ...fields } = payload
  const body: Record<string, unknown> = { id: eventId, event: type, ...fields }
  if (body.created_utc === undefined) body.created_utc = isoUtc(nowMs)
  return JSON.stringify(body)
}

/**
 * Writes an event and its deliveries. Call it inside the transaction that writes the cause, with
 * that transaction's store (`store.transaction(async (tx) => ... await enqueueEvent(tx, ...))`), so
 * the event commits or rolls back with it. The event is written even when no active subscription
 * wants it (`deliveryIds` is then empty): the feed lists every event.
 */
export async function enqueueEvent(tx: TxStore, clock: Clock, input: EnqueueInput): Promise<{ eventId: string; deliveryIds: string[] }> {
  const now = clock.now()
  const eventId = newWebhookId('evt', now)
  const active = await tx.webhooks.activeSubscriptions(input.siteId)
  const targets =
    input.subscriptionId !== undefined ? active.filter((s) => s.id === input.subscriptionId) : active.filter((s) => subscribesTo(s.events, input.type))
  await tx.webhooks.insertEvent(eventId, input.siteId, input.type, eventBody(eventId, input.type, input.payload, now), now, visitorKeyOf(input.payload))
  const deliveryIds: string[] = []
  for (const sub of targets) {
    const id = newWebhookId('dlv', now)
    await tx.webhooks.insertDelivery(id, input.siteId, sub.id, eventId, input.type, now)
    deliveryIds.push(id)
  }
  return { eventId, deliveryIds }
}
