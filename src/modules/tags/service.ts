/** Tags of a site: plain functions over the tag repository. */
import type { Clock } from '../../clock'
import type { Store } from '../../db/store'
import type { TagRow } from '../../db/tags'
import { BadRequestError, ConflictError, NotFoundError } from '../../errors'
import { type CreateTagInput, DEFAULT_TAG_COLOR, type Tag, type UpdateTagInput } from './model'

function present(row: TagRow): Tag {
  return { id: row.id, name: row.name, color: row.color }
}

function isUniqueViolation(err: unknown): boolean {
  return String((err as { code?: string })?.code ?? '').startsWith('SQLITE_CONSTRAINT_UNIQUE')
}

function normalizeName(name: string): string {
  const trimmed = name.trim()
  if (!trimmed) throw new BadRequestError('name must be 1-64 characters', 'name')
  return trimmed
}

/** A site's tags, oldest first. */
export function listTags(store: Store, siteId: number): Tag[] {
  return store.tags.list(siteId).map(present)
}

/** Creates a tag; 409 if the site has one with that name. */
export function createTag(store: Store, clock: Clock, siteId: number, input: CreateTagInput): Tag {
  const name = normalizeName(input.name)
  if (store.tags.byName(siteId, name)) throw new ConflictError(`A tag named "${name}" already exists.`, 'name')
  try {
    return present(store.tags.insert(siteId, name, (input.color ?? DEFAULT_TAG_COLOR).toLowerCase(), clock.now()))
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`A tag named "${name}" already exists.`, 'name')
    throw err
  }
}

/** Changes a tag's name or color. */
export function updateTag(store: Store, siteId: number, id: number, input: UpdateTagInput): Tag {
  const current = store.tags.get(siteId, id)
  if (!current) throw new NotFoundError(`No tag with id ${id}.`, 'id')
  const name = input.name !== undefined ? normalizeName(input.name) : current.name
  if (name !== current.name && store.tags.byName(siteId, name)) throw new ConflictError(`A tag named "${name}" already exists.`, 'name')
  try {
    const row = store.tags.update(siteId, id, name, (input.color ?? current.color).toLowerCase())
    if (!row) throw new NotFoundError(`No tag with id ${id}.`, 'id')
    return present(row)
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`A tag named "${name}" already exists.`, 'name')
    throw err
  }
}

/** Deletes a tag. */
export function deleteTag(store: Store, siteId: number, id: number): { id: number; deleted: true } {
  if (!store.tags.remove(siteId, id)) throw new NotFoundError(`No tag with id ${id}.`, 'id')
  return { id, deleted: true }
}

/** One tag. */
export function getTag(store: Store, siteId: number, id: number): Tag {
  const row = store.tags.get(siteId, id)
  if (!row) throw new NotFoundError(`No tag with id ${id}.`, 'id')
  return present(row)
}
