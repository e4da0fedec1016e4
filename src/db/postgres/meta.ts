/**
 * Small shared key/value state on PostgreSQL: the same answers as the SQLite repo. `auth_epoch`
 * is bumped by every token or site change so other instances drop their auth caches.
 */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { MetaRepo } from '../rows'

/** Bumps made by this process, shared by every meta repo it builds (over the pool and over each transaction). */
export interface LocalBumps {
  count: number
}

/** Statements over `meta`. Pass one `LocalBumps` to every meta repo of a store so `localBumps` counts them all. */
export function createPostgresMetaRepo(sql: SQL, bumps: LocalBumps = { count: 0 }): AsyncRepo<MetaRepo> {
  return {
    // In-process readers (the authenticator) compare this to notice their own process's bumps at
    // once, without a query; other instances see the stored epoch change.
    localBumps: async () => bumps.count,
    get: async (key) => {
      const rows: { value: string }[] = await sql`SELECT value FROM meta WHERE key = ${key}`
      return rows[0]?.value ?? null
    },
    set: async (key, value) => {
      await sql`INSERT INTO meta (key, value) VALUES (${key}, ${value}) ON CONFLICT (key) DO UPDATE SET value = excluded.value`
    },
    bump: async (key) => {
      // SQLite's CAST(value AS INTEGER) reads the longest integer prefix after leading blanks and
      // 0 when there is none ('41x' -> 41, 'abc' -> 0); PostgreSQL's ::bigint would throw instead.
      await sql`INSERT INTO meta (key, value) VALUES (${key}, '1')
                ON CONFLICT (key) DO UPDATE
                SET value = (COALESCE(substring(meta.value FROM '^[[:space:]]*([+-]?[0-9]+)')::bigint, 0) + 1)::text`
      bumps.count++
    },
  }
}
