/**
 * Applies numbered migrations inside one transaction each and records them, so a newer binary
 * upgrades an older data dir on start, and an older binary refuses a newer one instead of
 * corrupting it.
 */
import type { Database } from 'bun:sqlite'
import { MIGRATIONS, type Migration } from './migrations'

/** Raised when the database was written by a newer mlc. */
export class SchemaTooNewError extends Error {}

/** Brings the schema up to date; returns the versions applied now. */
export function migrate(db: Database, migrations: Migration[] = MIGRATIONS, nowMs = Date.now()): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)')
  const done = new Set(
    db
      .query<{ version: number }, []>('SELECT version FROM schema_migrations')
      .all()
      .map((r) => r.version),
  )
  const current = Math.max(0, ...done)
  const latest = migrations.at(-1)?.version ?? 0
  if (current > latest) {
    throw new SchemaTooNewError(
      `The database schema is version ${current}, newer than this mlc knows (${latest}). Run a newer mlc binary; this one will not touch the data.`,
    )
  }
  const applied: number[] = []
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)')
  for (const m of migrations) {
    // Apply every version not recorded yet, not only those above the highest: a data dir touched
    // by a development build that had a later number first still gets the earlier one.
    if (done.has(m.version)) continue
    db.transaction(() => {
      db.exec(m.sql)
      record.run(m.version, m.name, nowMs)
    }).immediate()
    applied.push(m.version)
  }
  return applied
}

/** The highest schema version this binary knows. */
export function latestSchemaVersion(migrations: Migration[] = MIGRATIONS): number {
  return migrations.at(-1)?.version ?? 0
}
