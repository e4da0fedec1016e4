/**
 * Runs work on a connection with another busy timeout than its usual 5 s: how long SQLite may
 * sleep, inside the call, waiting for a lock another connection holds. bun:sqlite is synchronous,
 * so while `fn` runs nothing else uses this connection and the change affects no one else.
 */
import type { Database } from 'bun:sqlite'

export function withBusyTimeout<T>(db: Pick<Database, 'query' | 'exec'>, timeoutMs: number, fn: () => T): T {
  const usual = db.query<{ timeout: number }, []>('PRAGMA busy_timeout').get()?.timeout ?? 5000
  db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(timeoutMs))}`)
  try {
    return fn()
  } finally {
    db.exec(`PRAGMA busy_timeout = ${usual}`)
  }
}

/** True for SQLite's "another connection holds the lock" error. */
export function isBusyError(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'SQLITE_BUSY'
}
