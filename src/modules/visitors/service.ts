/**
 * Visitors of a site: upsert by stable key with partial merge, read with events and segments,
 * list with a cursor, and privacy erasure. Plain functions over the store.
 */
import { type Clock, isoUtc } from '../../clock'
import { UniqueViolationError } from '../../db/errors'
import type { VisitorEventRow, VisitorRow } from '../../db/rows'
import type { Repositories, Store, TxStore } from '../../db/store'
import { BadRequestError, NotFoundError } from '../../errors'
import { eraseVisitorEvents } from '../../webhooks/erase'
import { evaluateVisitor } from '../segments/membership'
import { type AttributeValue, RESERVED_FIELDS, VISITOR_LIMITS, type Visitor, type VisitorDetail, type VisitorEvent } from './model'

/** Prefix of the key an anonymous visitor (known only by `anonymous_id`) is stored under. */
export const ANONYMOUS_KEY_PREFIX = 'anon:'

/** What `upsertVisitor` takes. Absent fields keep their values; `null` removes one. */
export interface UpsertVisitorInput {
  /** The stable key, 1-128 characters. */
  key: string
  email?: string | null
  name?: string | null
  /** Custom attributes to merge: scalars or flat arrays of scalars; `null` removes the attribute. */
  attributes?: Record<string, unknown>
  /** An anonymous id whose visitor (`anon:<id>`) is merged into this one (events, attributes, counts). */
  anonymousId?: string
}

export interface UpsertVisitorResult {
  visitor: Visitor
  row: VisitorRow
  created: boolean
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

/** Checks a visitor key (numbers are taken as text); returns it as a string. */
export function checkKey(raw: unknown, param = 'key'): string {
  if (typeof raw === 'number' && Number.isFinite(raw)) raw = String(raw)
  if (typeof raw !== 'string' || raw.length < 1 || raw.length > VISITOR_LIMITS.keyMax) {
    throw new BadRequestError(`${param} is required: a string of 1-${VISITOR_LIMITS.keyMax} characters`, param)
  }
  return raw
}

/** Checks an anonymous id and returns the visitor key it is stored under. */
export function anonymousKey(raw: unknown, param = 'anonymous_id'): string {
  if (typeof raw !== 'string' || raw.length < 1 || raw.length > VISITOR_LIMITS.keyMax) {
    throw new BadRequestError(`${param} must be a string of 1-${VISITOR_LIMITS.keyMax} characters`, param)
  }
  return ANONYMOUS_KEY_PREFIX + raw
}

/**
 * The visitor key a body names: `key`, else its alias `user_id`, else the anonymous visitor of
 * `anonymous_id`. `prefix` is put before param names (`events[2].`).
 */
export function keyOfBody(body: { key?: unknown; user_id?: unknown; anonymous_id?: unknown }, prefix = ''): { key: string; verified: boolean } {
  if (body.key !== undefined) return { key: checkKey(body.key, `${prefix}key`), verified: true }
  if (body.user_id !== undefined) return { key: checkKey(body.user_id, `${prefix}user_id`), verified: true }
  if (body.anonymous_id !== undefined) return { key: anonymousKey(body.anonymous_id, `${prefix}anonymous_id`), verified: false }
  throw new BadRequestError(`${prefix}key is required: a string of 1-${VISITOR_LIMITS.keyMax} characters`, `${prefix}key`)
}

/** Checks one attribute or property value; `param` names it in the 400. */
export function checkValue(value: unknown, param: string): AttributeValue {
  const scalar = (v: unknown) =>
    (typeof v === 'string' && v.length <= VISITOR_LIMITS.stringValueMax) || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
  if (scalar(value)) return value as AttributeValue
  if (Array.isArray(value) && value.length <= VISITOR_LIMITS.arrayItems && value.every(scalar)) return value as AttributeValue
  throw new BadRequestError(
    `${param} must be a string (up to ${VISITOR_LIMITS.stringValueMax} characters), number, boolean, or a flat array of up to ${VISITOR_LIMITS.arrayItems} of them`,
    param,
  )
}

function checkAttributeName(name: string, param: string): void {
  if (name.length < 1 || name.length > VISITOR_LIMITS.attributeNameMax) {
    throw new BadRequestError(`attribute names must be 1-${VISITOR_LIMITS.attributeNameMax} characters`, param)
  }
}

function checkEmail(raw: unknown): string | null | undefined {
  if (raw === undefined || raw === null) return raw
  if (typeof raw !== 'string' || raw.length > VISITOR_LIMITS.emailMax || !EMAIL.test(raw)) {
    throw new BadRequestError('email must be an email address like jay@example.com (or null to remove it)', 'email')
  }
  return raw
}

function checkName(raw: unknown): string | null | undefined {
  if (raw === undefined || raw === null) return raw
  if (typeof raw !== 'string' || raw.length < 1 || raw.length > VISITOR_LIMITS.nameMax) {
    throw new BadRequestError(`name must be 1-${VISITOR_LIMITS.nameMax} characters (or null to remove it)`, 'name')
  }
  return raw
}

/**
 * Turns a POST visitors body into an upsert input: reserved fields are read, every other top-level
 * field (and the optional `attributes` object) is a custom attribute. 400s name the field.
 */
export function visitorInputOfBody(body: Record<string, unknown>): UpsertVisitorInput {
  const { key } = keyOfBody(body)
  const attributes: Record<string, unknown> = {}
  if (body.attributes !== undefined) {
    if (typeof body.attributes !== 'object' || body.attributes === null || Array.isArray(body.attributes)) {
      throw new BadRequestError('attributes must be an object', 'attributes')
    }
    for (const [name, value] of Object.entries(body.attributes)) {
      checkAttributeName(name, `attributes.${name}`)
      attributes[name] = value === null ? null : checkValue(value, `attributes.${name}`)
    }
  }
  for (const [name, value] of Object.entries(body)) {
    if (RESERVED_FIELDS.has(name)) continue
    checkAttributeName(name, name)
    attributes[name] = value === null ? null : checkValue(value, name)
  }
  const input: UpsertVisitorInput = { key, attributes }
  if (body.email !== undefined) input.email = checkEmail(body.email)
  if (body.name !== undefined) input.name = checkName(body.name)
  if ((body.key !== undefined || body.user_id !== undefined) && body.anonymous_id !== undefined) {
    input.anonymousId = anonymousKey(body.anonymous_id).slice(ANONYMOUS_KEY_PREFIX.length)
  }
  return input
}

function parseAttributes(row: VisitorRow): Record<string, AttributeValue> {
  return JSON.parse(row.attributes) as Record<string, AttributeValue>
}

function mergeAttributes(base: Record<string, AttributeValue>, changes: Record<string, unknown>): Record<string, AttributeValue> {
  const out = { ...base }
  for (const [name, value] of Object.entries(changes)) {
    checkAttributeName(name, `attributes.${name}`)
    if (value === null) delete out[name]
    else out[name] = checkValue(value, `attributes.${name}`)
  }
  if (Object.keys(out).length > VISITOR_LIMITS.attributes) {
    throw new BadRequestError(`a visitor may have at most ${VISITOR_LIMITS.attributes} custom attributes`, 'attributes')
  }
  return out
}

/** The API shape of a visitor row, with its segments. */
export async function presentVisitor(store: Repositories, row: VisitorRow): Promise<Visitor> {
  const memberships = await store.segments.memberships(row.id)
  return {
    id: row.id,
    key: row.key,
    email: row.email,
    name: row.name,
    attributes: parseAttributes(row),
    first_seen_utc: isoUtc(row.first_seen_ms),
    last_seen_utc: isoUtc(row.last_seen_ms),
    event_count: row.event_count,
    segments: memberships.map((m) => ({ id: m.segment_id, name: m.name, entered_utc: isoUtc(m.entered_ms) })),
  }
}

/** The API shape of a stored event; `properties` may be passed when already parsed. */
export function presentEvent(row: VisitorEventRow, key: string, properties?: Record<string, unknown>): VisitorEvent {
  return {
    id: row.id,
    event_id: row.event_id,
    key,
    name: row.name,
    properties: (properties ?? JSON.parse(row.properties)) as VisitorEvent['properties'],
    timestamp_utc: isoUtc(row.occurred_ms),
    received_utc: isoUtc(row.received_ms),
  }
}

/** Merges the anonymous visitor `anonKey` into `target` (same site) and deletes it (inside the upsert's transaction). */
async function absorbAnonymous(tx: Repositories, target: VisitorRow, anonKey: string, nowMs: number): Promise<VisitorRow> {
  const found = await tx.visitors.byKey(target.site_id, anonKey)
  if (!found || found.id === target.id) return target
  // A write that changes nothing the merge keeps (the row goes below) locks the anonymous visitor
  // until commit and answers its current row: a concurrent merge of the same one (PostgreSQL)
  // waits, then finds it gone, so its counts are added once.
  const anon = await tx.visitors.recordEvents(target.site_id, found.id, 0, found.last_seen_ms, nowMs)
  if (!anon) return target
  await tx.visitorEvents.reassign(target.site_id, anon.id, target.id)
  const attrs = { ...parseAttributes(anon), ...parseAttributes(target) }
  if (Object.keys(attrs).length > VISITOR_LIMITS.attributes) {
    throw new BadRequestError(`a visitor may have at most ${VISITOR_LIMITS.attributes} custom attributes`, 'attributes')
  }
  await tx.visitors.updateProfile(target.site_id, target.id, target.email ?? anon.email, target.name ?? anon.name, JSON.stringify(attrs), nowMs)
  const merged = (await tx.visitors.absorb(target.site_id, target.id, anon)) as VisitorRow
  await tx.visitors.remove(target.site_id, anonKey)
  return merged
}

/**
 * Creates or updates the site's visitor with `input.key`, merging attributes (absent keep,
 * `null` removes), merging in the anonymous visitor of `input.anonymousId` if any, and
 * re-evaluating the visitor's segments, all in one transaction. Throws BadRequestError naming
 * the field on bad input. Used by POST visitors, track (unknown keys) and the chat engine.
 * Signature: upsertVisitor(store or a transaction's tx, clock, siteId, { key, email?, name?, attributes?, anonymousId? })
 *   -> Promise<{ visitor (API shape), row (VisitorRow), created }>.
 */
export async function upsertVisitor(store: Store | TxStore, clock: Clock, siteId: number, input: UpsertVisitorInput): Promise<UpsertVisitorResult> {
  const key = checkKey(input.key)
  const email = checkEmail(input.email)
  const name = checkName(input.name)
  const upsert = (tx: TxStore) => upsertIn(tx, clock, siteId, input, key, email, name)
  try {
    return await store.transaction(upsert)
  } catch (err) {
    // PostgreSQL: another request created this visitor between the read and the insert. It
    // exists now, so running again updates it (the unique key decided who created it).
    if (err instanceof UniqueViolationError) return store.transaction(upsert)
    throw err
  }
}

async function upsertIn(
  tx: TxStore,
  clock: Clock,
  siteId: number,
  input: UpsertVisitorInput,
  key: string,
  email: string | null | undefined,
  name: string | null | undefined,
): Promise<UpsertVisitorResult> {
  const now = clock.now()
  const found = await tx.visitors.byKey(siteId, key)
  // Marking the visitor seen first (the update below does the same) locks its row until commit
  // and answers its current state, so two concurrent merges (PostgreSQL) do not lose attributes.
  const existing = found && (await tx.visitors.recordEvents(siteId, found.id, 0, now, now))
  const attrs = mergeAttributes(existing ? parseAttributes(existing) : {}, input.attributes ?? {})
  let row: VisitorRow
  if (existing) {
    row = (await tx.visitors.updateProfile(
      siteId,
      existing.id,
      email === undefined ? existing.email : email,
      name === undefined ? existing.name : name,
      JSON.stringify(attrs),
      now,
    )) as VisitorRow
  } else {
    row = await tx.visitors.insert(siteId, key, email ?? null, name ?? null, JSON.stringify(attrs), now)
  }
  const before = row
  if (input.anonymousId !== undefined) row = await absorbAnonymous(tx, row, ANONYMOUS_KEY_PREFIX + input.anonymousId, now)
  // A visitor created just now (and not merged with an anonymous one) has no events yet.
  await evaluateVisitor(tx, row, now, !existing && row === before ? { events: [] } : undefined)
  return { visitor: await presentVisitor(tx, row), row, created: !existing }
}

/** The site's visitor with this key, with recent events and segments; 404 when unknown. */
export async function getVisitor(store: Store, siteId: number, key: string): Promise<VisitorDetail> {
  const row = await store.visitors.byKey(siteId, checkKey(key))
  if (!row) throw new NotFoundError(`No visitor with key "${key}".`, 'key')
  const events = (await store.visitorEvents.recent(row.id, VISITOR_LIMITS.recentEvents)).map((e) => {
    const { key: _key, ...rest } = presentEvent(e, row.key)
    return rest
  })
  return { ...(await presentVisitor(store, row)), events }
}

/**
 * Erases a visitor: attributes, events and memberships go with the row, and the text of their
 * chats (messages, handoff summary, rating comment) is blanked and detached from them, in the
 * stored webhook events too (the feed, and deliveries not sent yet); the counts behind usage and
 * ratings stay. 404 when unknown.
 */
export async function deleteVisitor(store: Store, siteId: number, key: string): Promise<{ key: string; deleted: true }> {
  const id = await store.transaction(async (tx) => {
    const removed = await tx.visitors.remove(siteId, checkKey(key))
    if (removed !== null) {
      await tx.chat.eraseVisitor(siteId, key)
      await eraseVisitorEvents(tx, siteId, key)
      // Responses stored for Idempotency-Key replays that name the visitor (identify answers carry
      // name, email, attributes) go too: a retry with such a key runs again instead of replaying them.
      await tx.idempotency.forgetMentioning(siteId, JSON.stringify(key))
    }
    return removed
  })
  if (id === null) throw new NotFoundError(`No visitor with key "${key}".`, 'key')
  return { key, deleted: true }
}

function encodeCursor(row: VisitorRow): string {
  return Buffer.from(`${row.last_seen_ms}.${row.id}`).toString('base64url')
}

function decodeCursor(cursor: string): { lastSeenMs: number; id: number } {
  const m = /^(-?\d+)\.(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (!m) throw new BadRequestError('cursor is not a next_cursor this API returned', 'cursor')
  return { lastSeenMs: Number(m[1]), id: Number(m[2]) }
}

/** Parses an ISO-8601 date-time query value; 400 naming `param` otherwise. */
export function parseIsoParam(raw: string, param: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw) ? Date.parse(raw) : Number.NaN
  if (Number.isNaN(ms)) throw new BadRequestError(`${param} must be an ISO-8601 date-time like 2026-11-25T12:00:00Z`, param)
  return ms
}

/** One page of the site's visitors, newest activity first, with optional filters. */
export async function listVisitors(
  store: Store,
  siteId: number,
  q: { limit?: number; cursor?: string; segment?: number; email?: string; updated_since?: string },
): Promise<{ items: Visitor[]; has_more: boolean; next_cursor: string | null }> {
  const limit = q.limit ?? 20
  if (q.segment !== undefined && !(await store.segments.get(siteId, q.segment))) throw new NotFoundError(`No segment with id ${q.segment}.`, 'segment')
  const rows = await store.visitors.list(siteId, {
    segmentId: q.segment ?? null,
    email: q.email ?? null,
    updatedSinceMs: q.updated_since !== undefined ? parseIsoParam(q.updated_since, 'updated_since') : null,
    after: q.cursor ? decodeCursor(q.cursor) : null,
    limit: limit + 1,
  })
  const has_more = rows.length > limit
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  const items = await Promise.all(page.map((r) => presentVisitor(store, r)))
  return { items, has_more, next_cursor: has_more && last ? encodeCursor(last) : null }
}
