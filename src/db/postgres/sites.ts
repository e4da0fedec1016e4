/** Sites (the tenants) on PostgreSQL: the same rows and answers as the SQLite repo. */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { SiteRepo, SiteRow } from '../rows'
import { allRows, bigintColumns, firstOrNull } from './rows'

const site = bigintColumns<SiteRow>('id', 'created_ms')

/** Statements over `sites`. */
export function createPostgresSiteRepo(sql: SQL): AsyncRepo<SiteRepo> {
  return {
    insert: async (name, plan, rateLimit, publishableKey, nowMs) =>
      site(
        (
          await sql`INSERT INTO sites (name, plan, rate_limit, publishable_key, created_ms)
                    VALUES (${name}, ${plan}, ${rateLimit}, ${publishableKey}, ${nowMs}) RETURNING *`
        )[0],
      ),
    byId: async (id) => firstOrNull(await sql`SELECT * FROM sites WHERE id = ${id}`, site),
    byPublishableKey: async (key) => firstOrNull(await sql`SELECT * FROM sites WHERE publishable_key = ${key}`, site),
    list: async () => allRows(await sql`SELECT * FROM sites ORDER BY id`, site),
    update: async (id, fields) =>
      firstOrNull(
        await sql`UPDATE sites SET plan = ${fields.plan}, rate_limit = ${fields.rate_limit}, name = ${fields.name} WHERE id = ${id} RETURNING *`,
        site,
      ),
    count: async () => Number((await sql`SELECT COUNT(*) AS n FROM sites`)[0].n),
  }
}
