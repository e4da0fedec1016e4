/**
 * Storage checks for /readyz. The probe is a real write (one meta row, rewritten each time), so
 * a full disk, a read-only mount or a lock held elsewhere all show up; it waits at most
 * `timeoutMs` for a lock instead of the connection's usual 5 s (/readyz passes 0 and retries
 * asynchronously, so the event loop never sleeps on its behalf).
 */
import type { Database } from 'bun:sqlite'
import { withBusyTimeout } from './busy-timeout'

/** Builds the probe over an open database. */
export function createHealthRepo(db: Database) {
  const write = db.query<never, [string]>("INSERT INTO meta (key, value) VALUES ('ready_probe_ms', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
  return {
    /** Null when a write committed; otherwise the SQLite error code (SQLITE_FULL, SQLITE_BUSY ...). */
    probeWrite(nowMs: number, timeoutMs: number): string | null {
      try {
        withBusyTimeout(db, timeoutMs, () => write.run(String(nowMs)))
        return null
      } catch (err) {
        return String((err as { code?: unknown }).code ?? (err as Error).message)
      }
    },
  }
}
export type HealthRepo = ReturnType<typeof createHealthRepo>

/** What an SQLite error code means for an operator ("disk full" for SQLITE_FULL ...), for /readyz and its log line. */
export function storageProblem(code: string): string {
  if (code.startsWith('SQLITE_FULL')) return 'disk full'
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'locked by another connection'
  if (code.startsWith('SQLITE_READONLY')) return 'read-only'
  if (code.startsWith('SQLITE_IOERR')) return 'I/O error'
  if (code.startsWith('SQLITE_CANTOPEN')) return 'cannot open the file'
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) return 'damaged'
  return 'error'
}
