/**
 * Tracked events: validation, idempotent storage by `event_id`, the visitor's counters and segment
 * re-evaluation, for one event or a batch answered per item. Plain functions over the store.
 */
import type { Clock } from '../../clock'
import { UniqueViolationError } from '../../db/errors'
import type { VisitorRow } from '../../db/rows'
import type { Repositories, Store, TxStore } from '../../db/store'
import { ApiError, BadRequestError } from '../../errors'
import { evaluateVisitor } from '../segments/membership'
import { type AttributeValue, VISITOR_LIMITS, type VisitorEvent } from '../visitors/model'
import { checkValue, keyOfBody, parseIsoParam, presentEvent } from '../visitors/service'
import type { BatchItemResult, BatchResult } from './model'

/** One validated event. */
export interface TrackInput {
  /** The visitor key (`anon:<id>` for an anonymous visitor). */
  key: string
  /** Whether the key came from `key`/`user_id` (a claim to verify) rather than `anonymous_id`. */
  claimed: boolean
  name: string
  properties: Record<string, AttributeValue | null>
  occurredMs: number
  eventId: string | null
}

const ITEM_FIELDS = new Set(['key', 'user_id', 'anonymous_id', 'name', 'properties', 'timestamp', 'event_id'])

function checkProperties(raw: unknown, param: string): Record<string, AttributeValue | null> {
  if (raw === undefined || raw === null) return {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new BadRequestError(`${param} must be a flat object`, param)
  const out: Record<string, AttributeValue | null> = {}
  for (const [name, value] of Object.entries(raw)) {
    if (name.length < 1 || name.length > VISITOR_LIMITS.attributeNameMax) {
      throw new BadRequestError(`property names must be 1-${VISITOR_LIMITS.attributeNameMax} characters`, `${param}.${name}`)
    }
    out[name] = value === null ? null : checkValue(value, `${param}.${name}`)
  }
  if (Buffer.byteLength(JSON.stringify(out)) > VISITOR_LIMITS.propertiesBytes) {
    throw new BadRequestError(`${param} must be at most ${VISITOR_LIMITS.propertiesBytes} bytes as JSON`, param)
  }
  return out
}

/**
 * Validates one event (`prefix` goes before param names, like `events.3.`); 400 naming the field.
 * `nowMs` bounds the timestamp: at most one hour ahead.
 */
export function parseTrackItem(raw: unknown, nowMs: number, prefix = ''): TrackInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new BadRequestError(`${prefix || 'body'} must be an event object`, prefix.replace(/\.$/, '') || 'body')
  const body = raw as Record<string, unknown>
  for (const k of Object.keys(body)) {
    if (!ITEM_FIELDS.has(k)) throw new BadRequestError(`${prefix}${k} is not an event field; allowed: ${[...ITEM_FIELDS].join(', ')}`, `${prefix}${k}`)
  }
  const { key, verified } = keyOfBody(body, prefix)
  const name = body.name
  if (typeof name !== 'string' || name.length < 1 || name.length > VISITOR_LIMITS.eventNameMax) {
    throw new BadRequestError(`${prefix}name is required: an event name of 1-${VISITOR_LIMITS.eventNameMax} characters`, `${prefix}name`)
  }
  let occurredMs = nowMs
  if (body.timestamp !== undefined && body.timestamp !== null) {
    if (typeof body.timestamp !== 'string') throw new BadRequestError(`${prefix}timestamp must be an ISO-8601 date-time`, `${prefix}timestamp`)
    occurredMs = parseIsoParam(body.timestamp, `${prefix}timestamp`)
    if (occurredMs > nowMs + VISITOR_LIMITS.futureMs) {
      throw new BadRequestError(`${prefix}timestamp is more than 1 hour in the future`, `${prefix}timestamp`)
    }
  }
  let eventId: string | null = null
  if (body.event_id !== undefined && body.event_id !== null) {
    if (typeof body.event_id !== 'string' || body.event_id.length < 1 || body.event_id.length > VISITOR_LIMITS.eventIdMax) {
      throw new BadRequestError(`${prefix}event_id must be a string of 1-${VISITOR_LIMITS.eventIdMax} characters`, `${prefix}event_id`)
    }
    eventId = body.event_id
  }
  return { key, claimed: verified, name, properties: checkProperties(body.properties, `${prefix}properties`), occurredMs, eventId }
}

/** Splits a track body into its events: the single form or `events: [...]`. */
export function trackItemsOfBody(body: Record<string, unknown>): { batch: boolean; items: unknown[] } {
  if (body.events === undefined) {
    const { identity_token: _token, ...item } = body
    return { batch: false, items: [item] }
  }
  const stray = Object.keys(body).find((k) => k !== 'events' && k !== 'identity_token')
  if (stray) throw new BadRequestError(`send either one event or { "events": [...] }, not both (${stray} next to events)`, stray)
  const events = body.events
  if (!Array.isArray(events) || events.length < 1 || events.length > VISITOR_LIMITS.batch) {
    throw new BadRequestError(`events must be an array of 1-${VISITOR_LIMITS.batch} events`, 'events')
  }
  return { batch: true, items: events }
}

/**
 * Stores one event (call inside a write transaction, with its `tx`): a repeated `event_id`
 * returns the first event and stores nothing; an unknown key creates the visitor; the visitor's
 * counters move and its segments are re-evaluated.
 */
export async function storeEvent(tx: Repositories, clock: Clock, siteId: number, input: TrackInput): Promise<{ event: VisitorEvent; duplicate: boolean }> {
  const now = clock.now()
  if (input.eventId !== null) {
    const first = await tx.visitorEvents.byEventId(siteId, input.eventId)
    if (first) {
      const owner = (await tx.visitors.byId(siteId, first.visitor_id)) as VisitorRow
      return { event: presentEvent(first, owner.key), duplicate: true }
    }
  }
  const existing = await tx.visitors.byKey(siteId, input.key)
  // Null as well when the visitor was erased since the read (PostgreSQL): then the event creates it anew.
  const counted = existing && (await tx.visitors.recordEvents(siteId, existing.id, 1, input.occurredMs, now))
  const visitor = counted ?? (await tx.visitors.insertTracked(siteId, input.key, input.occurredMs, now))
  const row = await tx.visitorEvents.insert(siteId, visitor.id, input.name, JSON.stringify(input.properties), input.eventId, input.occurredMs, now)
  await evaluateVisitor(tx, visitor, now, counted ? undefined : { events: [{ name: input.name, occurredMs: input.occurredMs }] })
  return { event: presentEvent(row, visitor.key, input.properties), duplicate: false }
}

/**
 * Runs `write` (a transaction storing one event) again once when it lost a race on a unique key:
 * another request stored the same `event_id` or created the same visitor between the read and
 * the insert (PostgreSQL; SQLite runs the two one after the other). The second run finds the
 * first event (a duplicate) or the visitor (an update).
 */
async function againOnConflict<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (err) {
    if (!(err instanceof UniqueViolationError)) throw err
    return write()
  }
}

/** Tracks one event in its own transaction (for callers outside the HTTP group commit). */
export function trackEvent(store: Store, clock: Clock, siteId: number, input: TrackInput): Promise<{ event: VisitorEvent; duplicate: boolean }> {
  return againOnConflict(() => store.transaction((tx) => storeEvent(tx, clock, siteId, input)))
}

/**
 * Tracks one event in the next group commit (events arriving together share one COMMIT);
 * resolves once its transaction has committed.
 */
export async function trackGrouped(store: Store, clock: Clock, siteId: number, input: TrackInput): Promise<{ event: VisitorEvent; duplicate: boolean }> {
  const write = (tx: TxStore) => storeEvent(tx, clock, siteId, input)
  try {
    return await store.grouped(write)
  } catch (err) {
    // As againOnConflict, inline: the common path of every track call stays one await.
    if (!(err instanceof UniqueViolationError)) throw err
    return store.grouped(write)
  }
}

/**
 * Stores a batch (call inside a write transaction, with its `tx`): each item valid on its own is
 * stored in its own savepoint, so one bad event does not sink the rest; answers per item.
 */
export async function storeBatch(tx: TxStore, clock: Clock, siteId: number, items: (TrackInput | ApiError)[]): Promise<BatchResult> {
  const results: BatchItemResult[] = []
  let stored = 0
  let duplicates = 0
  // One after another: the items share the transaction (and their order is the answer's).
  for (let index = 0; index < items.length; index++) {
    const item = items[index] as TrackInput | ApiError
    if (item instanceof ApiError) {
      results.push({ index, ok: false, error: { code: item.code, message: item.message, ...(item.param ? { param: item.param } : {}) } })
      continue
    }
    try {
      const { event, duplicate } = await againOnConflict(() => tx.transaction((sp) => storeEvent(sp, clock, siteId, item)))
      if (duplicate) duplicates++
      else stored++
      results.push({ index, ok: true, id: event.id, event_id: event.event_id, duplicate })
    } catch (err) {
      if (!(err instanceof ApiError)) throw err
      results.push({ index, ok: false, error: { code: err.code, message: err.message, ...(err.param ? { param: err.param } : {}) } })
    }
  }
  return { stored, duplicates, failed: results.length - stored - duplicates, results }
}

/** Stores a batch in the next group commit; resolves once committed. */
export function trackBatchGrouped(store: Store, clock: Clock, siteId: number, items: (TrackInput | ApiError)[]): Promise<BatchResult> {
  return store.grouped((tx) => storeBatch(tx, clock, siteId, items))
}

/** Validates batch items one by one: a bad one becomes its error, the rest stay storable. */
export function parseBatch(items: unknown[], nowMs: number): (TrackInput | ApiError)[] {
  return items.map((raw, i) => {
    try {
      return parseTrackItem(raw, nowMs, `events.${i}.`)
    } catch (err) {
      if (err instanceof ApiError) return err
      throw err
    }
  })
}
