/** Tags of a site: plain functions over the tag repository. */
import type { Clock } from '../../clock'
import { UniqueViolationError } from '../../db/errors'
import { tagLock } from '../../db/lock-keys'
import type { TagRow } from '../../db/rows'
import type { Store } from '../../db/store'
import { BadRequestError, ConflictError, NotFoundError } from '../../errors'
import { type CreateTagInput, DEFAULT_TAG_COLOR, type Tag, type UpdateTagInput } from './model'

function present(row: TagRow): Tag {
  return { id: row.id, name: row.name, color: row.color }
}

function normalizeName(name: string): string {
  const trimmed = name.trim()
  if (!trimmed) throw new BadRequestError('name must be 1-64 characters', 'name')
  return trimmed
}

/** A site's tags, oldest first. */
export async function listTags(store: Store, siteId: number): Promise<Tag[]> {
  return (await store.tags.list(siteId)).map(present)
}

/** Creates a tag; 409 if the site has one with that name. */
export async function createTag(store: Store, clock: Clock, siteId: number, input: CreateTagInput): Promise<Tag> {
  const name = normalizeName(input.name)
  if (await store.tags.byName(siteId, name)) throw new ConflictError(`A tag named "${name}" already exists.`, 'name')
  try {
    return present(await store.tags.insert(siteId, name, (input.color ?? DEFAULT_TAG_COLOR).toLowerCase(), clock.now()))
  } catch (err) {
    if (err instanceof UniqueViolationError) throw new ConflictError(`A tag named "${name}" already exists.`, 'name')
    throw err
  }
}

/** Changes a tag's name or color. */
export async function updateTag(store: Store, siteId: number, id: number, input: UpdateTagInput): Promise<Tag> {
  let name = ''
  try {
    // Read and rewrite in one transaction under the tag's lock, taken before the read: a concurrent
    // PATCH of the other field waits for this one's commit, then merges into what it wrote.
    return await store.transaction(async (tx) => {
      await tx.lock(tagLock(siteId, id))
      const current = await tx.tags.get(siteId, id)
      if (!current) throw new NotFoundError(`No tag with id ${id}.`, 'id')
      name = input.name !== undefined ? normalizeName(input.name) : current.name
      if (name !== current.name && (await tx.tags.byName(siteId, name))) throw new ConflictError(`A tag named "${name}" already exists.`, 'name')
      const row = await tx.tags.update(siteId, id, name, (input.color ?? current.color).toLowerCase())
      if (!row) throw new NotFoundError(`No tag with id ${id}.`, 'id')
      return present(row)
    })
  } catch (err) {
    // Another request took the name between the check and the write (PostgreSQL: the unique index decides).
    if (err instanceof UniqueViolationError) throw new ConflictError(`A tag named "${name}" already exists.`, 'name')
    throw err
  }
}

/** Deletes a tag. */
export async function deleteTag(store: Store, siteId: number, id: number): Promise<{ id: number; deleted: true }> {
  if (!(await store.tags.remove(siteId, id))) throw new NotFoundError(`No tag with id ${id}.`, 'id')
  return { id, deleted: true }
}

/** One tag. */
export async function getTag(store: Store, siteId: number, id: number): Promise<Tag> {
  const row = await store.tags.get(siteId, id)
  if (!row) throw new NotFoundError(`No tag with id ${id}.`, 'id')
  return present(row)
}
