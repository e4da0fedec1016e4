/**
 * A visitor's erasure reaches their stored events: the event stays (the feed and the delivery log
 * keep their ids and counts), its visitor fields are blanked as the chat erasure blanks the rows
 * behind them (`chat.eraseVisitor` of either engine): the session's visitor becomes null, so the
 * event's `visitor` is `{ key: null, name: null, email: null }`, a handoff's `summary` becomes ""
 * and a feedback's `comment` null. A delivery not sent yet sends the erased body: deliveries have
 * no body of their own, they send their event's.
 */
import type { TxStore } from '../db/store'

/** Per event type, the fields holding what the visitor said, and the blank the chat erasure writes there. */
const ERASED_FIELDS: Record<string, Record<string, '' | null>> = {
  handoff: { summary: '' },
  feedback: { comment: null },
}

/**
 * The body of an event with the visitor's data blanked. Keys keep their order and every other
 * value its exact JSON: the body was written by JSON.stringify, which reads back the same.
 */
export function erasedEventBody(type: string, body: string): string {
  const event = JSON.parse(body) as Record<string, unknown>
  const visitor = event.visitor
  if (typeof visitor === 'object' && visitor !== null) {
    event.visitor = Object.fromEntries(Object.keys(visitor).map((k) => [k, null]))
  }
  for (const [field, blank] of Object.entries(ERASED_FIELDS[type] ?? {})) if (field in event) event[field] = blank
  return JSON.stringify(event)
}

/** Blanks a visitor's data in every stored event about them; call it in the erasure's transaction. Resolves with how many. */
export async function eraseVisitorEvents(tx: TxStore, siteId: number, visitorKey: string): Promise<number> {
  const events = await tx.webhooks.eventsOfVisitor(siteId, visitorKey)
  for (const e of events) await tx.webhooks.rewriteErasedEvent(siteId, e.id, erasedEventBody(e.type, e.body))
  return events.length
}
