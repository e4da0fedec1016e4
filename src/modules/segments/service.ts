/** Segments of a site: CRUD, with membership re-evaluated for every visitor when a rule is set. */
import { type Clock, isoUtc } from '../../clock'
import type { SegmentRow } from '../../db/segments'
import type { Store } from '../../db/store'
import { BadRequestError, ConflictError, NotFoundError } from '../../errors'
import { evaluateSegment } from './membership'
import type { CreateSegmentInput, Segment, UpdateSegmentInput } from './model'
import { validateRule } from './rule'

function present(store: Store, row: SegmentRow): Segment {
  return {
    id: row.id,
    name: row.name,
    rule: JSON.parse(row.rule),
    member_count: store.segments.memberCount(row.id),
    created_utc: isoUtc(row.created_ms),
    updated_utc: isoUtc(row.updated_ms),
  }
}

function normalizeName(name: string): string {
  const trimmed = name.trim()
  if (!trimmed) throw new BadRequestError('name must be 1-100 characters', 'name')
  return trimmed
}

function checkRule(rule: unknown): string {
  if (rule === undefined) throw new BadRequestError('rule is required: {"all": [...]} or {"any": [...]}', 'rule')
  return JSON.stringify(validateRule(rule))
}

/** Runs a segment write in a transaction; the cached segment lists are dropped when it ends, committed or rolled back. */
function inSegmentTransaction<T>(store: Store, fn: () => T): T {
  try {
    return store.transaction(fn)
  } finally {
    store.segments.forget()
  }
}

/** A site's segments, oldest first. */
export function listSegments(store: Store, siteId: number): Segment[] {
  return store.segments.list(siteId).map((r) => present(store, r))
}

/** One segment. */
export function getSegment(store: Store, siteId: number, id: number): Segment {
  const row = store.segments.get(siteId, id)
  if (!row) throw new NotFoundError(`No segment with id ${id}.`, 'id')
  return present(store, row)
}

/** Creates a segment and evaluates every visitor of the site against it. */
export function createSegment(store: Store, clock: Clock, siteId: number, input: CreateSegmentInput): Segment {
  const name = normalizeName(input.name)
  const rule = checkRule(input.rule)
  return inSegmentTransaction(store, () => {
    if (store.segments.byName(siteId, name)) throw new ConflictError(`A segment named "${name}" already exists.`, 'name')
    const now = clock.now()
    const row = store.segments.insert(siteId, name, rule, now)
    evaluateSegment(store, row, now)
    return present(store, row)
  })
}

/** Renames a segment or changes its rule; a rule change re-evaluates every visitor. */
export function updateSegment(store: Store, clock: Clock, siteId: number, id: number, input: UpdateSegmentInput): Segment {
  const rule = input.rule === undefined ? undefined : checkRule(input.rule)
  const name = input.name === undefined ? undefined : normalizeName(input.name)
  return inSegmentTransaction(store, () => {
    const current = store.segments.get(siteId, id)
    if (!current) throw new NotFoundError(`No segment with id ${id}.`, 'id')
    if (name !== undefined && name !== current.name && store.segments.byName(siteId, name)) {
      throw new ConflictError(`A segment named "${name}" already exists.`, 'name')
    }
    const now = clock.now()
    const row = store.segments.update(siteId, id, name ?? current.name, rule ?? current.rule, now) as SegmentRow
    if (rule !== undefined && rule !== current.rule) evaluateSegment(store, row, now)
    return present(store, row)
  })
}

/** Deletes a segment and its memberships. */
export function deleteSegment(store: Store, siteId: number, id: number): { id: number; deleted: true } {
  if (!inSegmentTransaction(store, () => store.segments.remove(siteId, id))) throw new NotFoundError(`No segment with id ${id}.`, 'id')
  return { id, deleted: true }
}
