/** Conversation tags of a site. Every statement is scoped by site id. */
import type { Database } from 'bun:sqlite'
import { createVersionedCache } from './versioned-cache'

export interface TagRow {
  id: number
  site_id: number
  name: string
  color: string
  created_ms: number
}

/** Prepared statements over `tags`. */
export function createTagRepo(db: Database) {
  const list = db.query<TagRow, [number]>('SELECT * FROM tags WHERE site_id = ? ORDER BY id')
  const get = db.query<TagRow, [number, number]>('SELECT * FROM tags WHERE site_id = ? AND id = ?')
  const byName = db.query<TagRow, [number, string]>('SELECT * FROM tags WHERE site_id = ? AND name = ?')
  const insert = db.query<TagRow, [number, string, string, number]>('INSERT INTO tags (site_id, name, color, created_ms) VALUES (?, ?, ?, ?) RETURNING *')
  const update = db.query<TagRow, [string, string, number, number]>('UPDATE tags SET name = ?, color = ? WHERE site_id = ? AND id = ? RETURNING *')
  const remove = db.query<{ id: number }, [number, number]>('DELETE FROM tags WHERE site_id = ? AND id = ? RETURNING id')
  // `GET tags` is the most frequent read and the list changes rarely: serve it from memory.
  const cache = createVersionedCache<number, TagRow[]>(db)
  /** Runs a write and drops the cache after it (tag writes are single statements, so committed). */
  const writing = <T>(fn: () => T): T => {
    try {
      return fn()
    } finally {
      cache.clear()
    }
  }
  return {
    /** A site's tags by id (from memory while unchanged; treat as read-only). */
    list: (siteId: number): readonly TagRow[] => cache.get(siteId, () => list.all(siteId)),
    /** One tag of a site, or null. */
    get: (siteId: number, id: number) => get.get(siteId, id),
    /** The site's tag with this name, or null. */
    byName: (siteId: number, name: string) => byName.get(siteId, name),
    /** Inserts a tag. */
    insert: (siteId: number, name: string, color: string, nowMs: number) => writing(() => insert.get(siteId, name, color, nowMs) as TagRow),
    /** Updates a tag; null if it is not the site's. */
    update: (siteId: number, id: number, name: string, color: string) => writing(() => update.get(name, color, siteId, id)),
    /** Deletes a tag; false if it is not the site's. */
    remove: (siteId: number, id: number) => writing(() => remove.get(siteId, id) !== null),
  }
}
export type TagRepo = ReturnType<typeof createTagRepo>
