/**
 * Small shared key/value state. `auth_epoch` is bumped by every token or site change (from the
 * API or the CLI in another process) so a running server knows to drop its auth cache.
 */
import type { Database } from 'bun:sqlite'

/** Prepared statements over `meta`. */
export function createMetaRepo(db: Database) {
  const get = db.query<{ value: string }, [string]>('SELECT value FROM meta WHERE key = ?')
  const set = db.query<never, [string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
  const bump = db.query<never, [string]>("INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
  // Bumps made through this connection, so in-process readers notice at once, without a query.
  let localBumps = 0
  return {
    /** How many bumps this process has made (any key). */
    localBumps: () => localBumps,
    /** The value under key, or null. */
    get: (key: string) => get.get(key)?.value ?? null,
    /** Stores a value. */
    set: (key: string, value: string) => {
      set.run(key, value)
    },
    /** Increments a counter key (created at 1). */
    bump: (key: string) => {
      bump.run(key)
      localBumps++
    },
  }
}
export type MetaRepo = ReturnType<typeof createMetaRepo>
