/**
 * Tracked events: validation, idempotent storage by `event_id`, the visitor's counters and segment
 * re-evaluation, for one event or a batch answered per item. Plain functions over the store.
 */
import type { Clock } from '../../clock'
import type { Store } from '../../db/store'
import type { VisitorRow } from '../../db/visitors'
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
 * Stores one event (call inside a write transaction): a repeated `event_id` returns the first
 * event and stores nothing; an unknown key creates the visitor; the visitor's counters move and
 * its segments are re-evaluated.
 */
export function storeEvent(store: Store, clock: Clock, siteId: number, input: TrackInput): { event: VisitorEvent; duplicate: boolean } {
  const now = clock.now()
  if (input.eventId !== null) {
    const first = store.visitorEvents.byEventId(siteId, input.eventId)
    if (first) {
      const owner = store.visitors.byId(siteId, first.visitor_id) as VisitorRow
      return { event: presentEvent(first, owner.key), duplicate: true }
    }
  }
  const existing = store.visitors.byKey(siteId, input.key)
  const visitor = existing
    ? (store.visitors.recordEvents(siteId, existing.id, 1, input.occurredMs, now) as VisitorRow)
    : store.visitors.insertTracked(siteId, input.key, input.occurredMs, now)
  const row = store.visitorEvents.insert(siteId, visitor.id, input.name, JSON.stringify(input.properties), input.eventId, input.occurredMs, now)
  evaluateVisitor(store, visitor, now, existing ? undefined : { events: [{ name: input.name, occurredMs: input.occurredMs }] })
  return { event: presentEvent(row, visitor.key, input.properties), duplicate: false }
}

/** Tracks one event in its own transaction (for callers outside the HTTP group commit). */
export function trackEvent(store: Store, clock: Clock, siteId: number, input: TrackInput): { event: VisitorEvent; duplicate: boolean } {
  return store.transaction(() => storeEvent(store, clock, siteId, input))
}

/**
 * Stores a batch (call inside a write transaction): each item valid on its own is stored in its
 * own savepoint, so one bad event does not sink the rest; answers per item.
 */
export function storeBatch(store: Store, clock: Clock, siteId: number, items: (TrackInput | ApiError)[]): BatchResult {
  const results: BatchItemResult[] = []
  let stored = 0
  let duplicates = 0
  items.forEach((item, index) => {
    if (item instanceof ApiError) {
      results.push({ index, ok: false, error: { code: item.code, message: item.message, ...(item.param ? { param: item.param } : {}) } })
      return
    }
    try {
      const { event, duplicate } = store.transaction(() => storeEvent(store, clock, siteId, item))
      if (duplicate) duplicates++
      else stored++
      results.push({ index, ok: true, id: event.id, event_id: event.event_id, duplicate })
    } catch (err) {
      if (!(err instanceof ApiError)) throw err
      results.push({ index, ok: false, error: { code: err.code, message: err.message, ...(err.param ? { param: err.param } : {}) } })
    }
  })
  return { stored, duplicates, failed: results.length - stored - duplicates, results }
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
