/** Segments of a site: CRUD, with membership re-evaluated for every visitor when a rule is set. */
import { type Clock, isoUtc } from '../../clock'
import { UniqueViolationError } from '../../db/errors'
import { segmentLock } from '../../db/lock-keys'
import type { SegmentRow } from '../../db/rows'
import type { Repositories, Store, TxStore } from '../../db/store'
import { BadRequestError, ConflictError, NotFoundError } from '../../errors'
import { evaluateSegment } from './membership'
import type { CreateSegmentInput, Segment, UpdateSegmentInput } from './model'
import { validateRule } from './rule'

async function present(store: Repositories, row: SegmentRow): Promise<Segment> {
  return {
    id: row.id,
    name: row.name,
    rule: JSON.parse(row.rule),
    member_count: await store.segments.memberCount(row.id),
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

/**
 * Runs a segment write in a transaction; the cached segment lists are dropped when it ends,
 * committed or rolled back. Another request took the name meanwhile (PostgreSQL: the unique
 * index decides): 409, as when the check inside saw it.
 */
async function inSegmentTransaction<T>(store: Store, name: string | undefined, fn: (tx: TxStore) => Promise<T>): Promise<T> {
  try {
    return await store.transaction(fn)
  } catch (err) {
    if (err instanceof UniqueViolationError && name !== undefined) throw nameTaken(name)
    throw err
  } finally {
    await store.segments.forget()
  }
}

function nameTaken(name: string): ConflictError {
  return new ConflictError(`A segment named "${name}" already exists.`, 'name')
}

/** A site's segments, oldest first. */
export async function listSegments(store: Store, siteId: number): Promise<Segment[]> {
  const rows = await store.segments.list(siteId)
  return Promise.all(rows.map((r) => present(store, r)))
}

/** One segment. */
export async function getSegment(store: Store, siteId: number, id: number): Promise<Segment> {
  const row = await store.segments.get(siteId, id)
  if (!row) throw new NotFoundError(`No segment with id ${id}.`, 'id')
  return present(store, row)
}

/** Creates a segment and evaluates every visitor of the site against it. */
export async function createSegment(store: Store, clock: Clock, siteId: number, input: CreateSegmentInput): Promise<Segment> {
  const name = normalizeName(input.name)
  const rule = checkRule(input.rule)
  return inSegmentTransaction(store, name, async (tx) => {
    if (await tx.segments.byName(siteId, name)) throw nameTaken(name)
    const now = clock.now()
    const row = await tx.segments.insert(siteId, name, rule, now)
    await evaluateSegment(tx, row, now)
    return present(tx, row)
  })
}

/** Renames a segment or changes its rule; a rule change re-evaluates every visitor. */
export async function updateSegment(store: Store, clock: Clock, siteId: number, id: number, input: UpdateSegmentInput): Promise<Segment> {
  const rule = input.rule === undefined ? undefined : checkRule(input.rule)
  const name = input.name === undefined ? undefined : normalizeName(input.name)
  return inSegmentTransaction(store, name, async (tx) => {
    // Before the read: a concurrent rename or rule change waits, and is kept rather than undone.
    await tx.lock(segmentLock(siteId, id))
    const current = await tx.segments.get(siteId, id)
    if (!current) throw new NotFoundError(`No segment with id ${id}.`, 'id')
    if (name !== undefined && name !== current.name && (await tx.segments.byName(siteId, name))) throw nameTaken(name)
    const now = clock.now()
    const row = (await tx.segments.update(siteId, id, name ?? current.name, rule ?? current.rule, now)) as SegmentRow
    if (rule !== undefined && rule !== current.rule) await evaluateSegment(tx, row, now)
    return present(tx, row)
  })
}

/** Deletes a segment and its memberships. */
export async function deleteSegment(store: Store, siteId: number, id: number): Promise<{ id: number; deleted: true }> {
  if (!(await inSegmentTransaction(store, undefined, (tx) => tx.segments.remove(siteId, id)))) throw new NotFoundError(`No segment with id ${id}.`, 'id')
  return { id, deleted: true }
}
