/** Conversation tags of a site, on PostgreSQL: the same rows and answers as the SQLite repo. */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { TagRepo, TagRow } from '../rows'
import { allRows, bigintColumns, firstOrNull } from './rows'

const tag = bigintColumns<TagRow>('id', 'site_id', 'created_ms')

/** Statements over `tags`. */
export function createPostgresTagRepo(sql: SQL): AsyncRepo<TagRepo> {
  return {
    list: async (siteId) => allRows(await sql`SELECT * FROM tags WHERE site_id = ${siteId} ORDER BY id`, tag),
    get: async (siteId, id) => firstOrNull(await sql`SELECT * FROM tags WHERE site_id = ${siteId} AND id = ${id}`, tag),
    byName: async (siteId, name) => firstOrNull(await sql`SELECT * FROM tags WHERE site_id = ${siteId} AND name = ${name}`, tag),
    insert: async (siteId, name, color, nowMs) =>
      tag((await sql`INSERT INTO tags (site_id, name, color, created_ms) VALUES (${siteId}, ${name}, ${color}, ${nowMs}) RETURNING *`)[0]),
    update: async (siteId, id, name, color) =>
      firstOrNull(await sql`UPDATE tags SET name = ${name}, color = ${color} WHERE site_id = ${siteId} AND id = ${id} RETURNING *`, tag),
    remove: async (siteId, id) => (await sql`DELETE FROM tags WHERE site_id = ${siteId} AND id = ${id} RETURNING id`).length > 0,
  }
}
