/**
 * Migrations on PostgreSQL: the same numbered list as SQLite (each migration's `postgres` SQL),
 * all pending ones in one transaction under a transaction-scoped advisory lock, so several
 * instances starting at once on an empty database queue behind the first: it migrates, the
 * others find nothing left to do, and all of them come up.
 */
import type { SQL } from 'bun'
import { SchemaTooNewError } from '../errors'
import { MIGRATIONS, type Migration } from '../migrations'

/** The advisory lock key of mlc's migrations (an arbitrary constant: "mlc" in ASCII). */
const MIGRATION_LOCK_KEY = 0x6d6c63

/** Brings the schema up to date; returns the versions applied now. */
export async function migratePostgres(sql: SQL, migrations: Migration[] = MIGRATIONS, nowMs = Date.now()): Promise<number[]> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)`
    const rows: { version: number }[] = await tx`SELECT version FROM schema_migrations`
    const done = new Set(rows.map((r) => r.version))
    const current = Math.max(0, ...done)
    const latest = migrations.at(-1)?.version ?? 0
    if (current > latest) {
      throw new SchemaTooNewError(
        `The database schema is version ${current}, newer than this mlc knows (${latest}). Run a newer mlc binary; this one will not touch the data.`,
      )
    }
    const pending = migrations.filter((m) => !done.has(m.version))
    for (const m of pending) {
      await tx.unsafe(m.postgres)
      await tx`INSERT INTO schema_migrations (version, name, applied_ms) VALUES (${m.version}, ${m.name}, ${nowMs})`
    }
    return pending.map((m) => m.version)
  })
}
