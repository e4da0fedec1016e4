/**
 * The outbox: an event row plus one delivery row per matching active subscription, written in
 * the caller's transaction so nothing is sent for a rolled-back change and nothing is lost for a
 * committed one. After the commit the caller calls `deps.webhooks.wake()`.
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

/** A new prefixed, time-ordered id (`evt_...`, `dlv_...`). */
export function newWebhookId(prefix: 'evt' | 'dlv', nowMs: number): string {
  return `${prefix}_${Bun.randomUUIDv7('hex', nowMs).replaceAll('-', '')}`
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
 * the event commits or rolls back with it. No row is written when no active subscription wants
 * the event (`deliveryIds` is then empty).
 */
export async function enqueueEvent(tx: TxStore, clock: Clock, input: EnqueueInput): Promise<{ eventId: string; deliveryIds: string[] }> {
  const now = clock.now()
  const eventId = newWebhookId('evt', now)
  const active = await tx.webhooks.activeSubscriptions(input.siteId)
  const targets =
    input.subscriptionId !== undefined ? active.filter((s) => s.id === input.subscriptionId) : active.filter((s) => subscribesTo(s.events, input.type))
  if (targets.length === 0) return { eventId, deliveryIds: [] }
  await tx.webhooks.insertEvent(eventId, input.siteId, input.type, eventBody(eventId, input.type, input.payload, now), now)
  const deliveryIds: string[] = []
  for (const sub of targets) {
    const id = newWebhookId('dlv', now)
    await tx.webhooks.insertDelivery(id, input.siteId, sub.id, eventId, input.type, now)
    deliveryIds.push(id)
  }
  return { eventId, deliveryIds }
}
