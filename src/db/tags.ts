/** Conversation tags of a site. Every statement is scoped by site id. */
import type { Database } from 'bun:sqlite'

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
  return {
    /** A site's tags by id. */
    list: (siteId: number) => list.all(siteId),
    /** One tag of a site, or null. */
    get: (siteId: number, id: number) => get.get(siteId, id),
    /** The site's tag with this name, or null. */
    byName: (siteId: number, name: string) => byName.get(siteId, name),
    /** Inserts a tag. */
    insert: (siteId: number, name: string, color: string, nowMs: number) => insert.get(siteId, name, color, nowMs) as TagRow,
    /** Updates a tag; null if it is not the site's. */
    update: (siteId: number, id: number, name: string, color: string) => update.get(name, color, siteId, id),
    /** Deletes a tag; false if it is not the site's. */
    remove: (siteId: number, id: number) => remove.get(siteId, id) !== null,
  }
}
export type TagRepo = ReturnType<typeof createTagRepo>
