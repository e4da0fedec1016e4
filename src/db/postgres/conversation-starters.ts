/** Conversation starters of a site on PostgreSQL: the same rows and answers as the SQLite repo. */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { StarterRepo, StarterRow } from '../rows'
import { allRows, bigintColumns, firstOrNull } from './rows'

// position and enabled are INTEGER columns (numbers already); enabled stays 0/1 as on SQLite.
const starter = bigintColumns<StarterRow>('id', 'site_id', 'created_ms')

/** Statements over `conversation_starters`. */
export function createPostgresStarterRepo(sql: SQL): AsyncRepo<StarterRepo> {
  return {
    list: async (siteId, all) =>
      allRows(
        all
          ? await sql`SELECT * FROM conversation_starters WHERE site_id = ${siteId} ORDER BY position, id`
          : await sql`SELECT * FROM conversation_starters WHERE site_id = ${siteId} AND enabled = 1 ORDER BY position, id`,
        starter,
      ),
    get: async (siteId, id) => firstOrNull(await sql`SELECT * FROM conversation_starters WHERE site_id = ${siteId} AND id = ${id}`, starter),
    maxPosition: async (siteId) => {
      const rows: { p: number | null }[] = await sql`SELECT MAX(position) AS p FROM conversation_starters WHERE site_id = ${siteId}`
      return rows[0]?.p ?? null
    },
    insert: async (siteId, prompt, position, enabled, nowMs) =>
      starter(
        (
          await sql`INSERT INTO conversation_starters (site_id, prompt, position, enabled, created_ms)
                    VALUES (${siteId}, ${prompt}, ${position}, ${enabled ? 1 : 0}, ${nowMs}) RETURNING *`
        )[0],
      ),
    update: async (siteId, id, prompt, position, enabled) =>
      firstOrNull(
        await sql`UPDATE conversation_starters SET prompt = ${prompt}, position = ${position}, enabled = ${enabled ? 1 : 0}
                  WHERE site_id = ${siteId} AND id = ${id} RETURNING *`,
        starter,
      ),
    remove: async (siteId, id) => (await sql`DELETE FROM conversation_starters WHERE site_id = ${siteId} AND id = ${id} RETURNING id`).length > 0,
  }
}
