/** Conversation starters a site's chat widget offers new visitors. Scoped by site id. */
import type { Database } from 'bun:sqlite'

export interface StarterRow {
  id: number
  site_id: number
  prompt: string
  position: number
  enabled: number
  created_ms: number
}

/** Prepared statements over `conversation_starters`. */
export function createStarterRepo(db: Database) {
  const list = db.query<StarterRow, [number]>('SELECT * FROM conversation_starters WHERE site_id = ? ORDER BY position, id')
  const listEnabled = db.query<StarterRow, [number]>('SELECT * FROM conversation_starters WHERE site_id = ? AND enabled = 1 ORDER BY position, id')
  const get = db.query<StarterRow, [number, number]>('SELECT * FROM conversation_starters WHERE site_id = ? AND id = ?')
  const maxPosition = db.query<{ p: number | null }, [number]>('SELECT MAX(position) AS p FROM conversation_starters WHERE site_id = ?')
  const insert = db.query<StarterRow, [number, string, number, number, number]>(
    'INSERT INTO conversation_starters (site_id, prompt, position, enabled, created_ms) VALUES (?, ?, ?, ?, ?) RETURNING *',
  )
  const update = db.query<StarterRow, [string, number, number, number, number]>(
    'UPDATE conversation_starters SET prompt = ?, position = ?, enabled = ? WHERE site_id = ? AND id = ? RETURNING *',
  )
  const remove = db.query<{ id: number }, [number, number]>('DELETE FROM conversation_starters WHERE site_id = ? AND id = ? RETURNING id')
  return {
    /** A site's starters by position; only enabled ones unless `all`. */
    list: (siteId: number, all: boolean) => (all ? list.all(siteId) : listEnabled.all(siteId)),
    /** One starter of a site, or null. */
    get: (siteId: number, id: number) => get.get(siteId, id),
    /** The highest position in use, or null when the site has none. */
    maxPosition: (siteId: number) => maxPosition.get(siteId)?.p ?? null,
    /** Inserts a starter. */
    insert: (siteId: number, prompt: string, position: number, enabled: boolean, nowMs: number) =>
      insert.get(siteId, prompt, position, enabled ? 1 : 0, nowMs) as StarterRow,
    /** Replaces prompt, position and enabled; null if it is not the site's. */
    update: (siteId: number, id: number, prompt: string, position: number, enabled: boolean) => update.get(prompt, position, enabled ? 1 : 0, siteId, id),
    /** Deletes a starter; false if it is not the site's. */
    remove: (siteId: number, id: number) => remove.get(siteId, id) !== null,
  }
}
export type StarterRepo = ReturnType<typeof createStarterRepo>
