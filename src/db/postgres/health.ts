/**
 * Storage checks for /readyz on PostgreSQL, mirroring the SQLite probe: a real write (the same
 * meta row, rewritten each time) in one short transaction, so a lost connection, a full disk, a
 * read-only server (a standby after a failover) or a lock held elsewhere all show up.
 */
import { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { HealthRepo } from '../rows'
import { atomically } from './atomic'

/** Builds the probe over a pool. */
export function createPostgresHealthRepo(sql: SQL): AsyncRepo<HealthRepo> {
  return {
    probeWrite: async (nowMs, timeoutMs) => {
      try {
        await atomically(sql, async (tx) => {
          // The lock wait is bounded per transaction, as SQLite's busy timeout is per call.
          // PostgreSQL reads lock_timeout = 0 as "no limit", so "do not wait" becomes 1 ms.
          await tx`SELECT set_config('lock_timeout', ${`${Math.max(1, Math.floor(timeoutMs))}ms`}, true)`
          await tx`INSERT INTO meta (key, value) VALUES ('ready_probe_ms', ${String(nowMs)})
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value`
        })
        return null
      } catch (err) {
        // The SQLSTATE when the server answered, else Bun's code (ERR_POSTGRES_CONNECTION_REFUSED ...).
        if (err instanceof SQL.PostgresError) return err.errno ?? err.code
        return String((err as { code?: unknown }).code ?? (err as Error).message)
      }
    },
  }
}

/** What a PostgreSQL error code means for an operator ("disk full" for 53100 ...), for /readyz and its log line. */
export function storageProblem(code: string): string {
  if (code === '53100') return 'disk full'
  if (code === '53200') return 'out of memory'
  if (code === '53300') return 'too many connections'
  if (code === '55P03' || code === '40P01' || code === '40001') return 'locked by another connection'
  if (code === '25006') return 'read-only'
  if (code === '57014') return 'timed out'
  if (code === '57P01' || code === '57P02' || code === '57P03') return 'server shutting down or starting up'
  if (code.startsWith('08') || code.startsWith('ERR_POSTGRES_CONNECTION') || code === 'ERR_POSTGRES_IDLE_TIMEOUT') return 'cannot connect'
  if (code === '58030') return 'I/O error'
  if (code === 'XX001' || code === 'XX002') return 'damaged'
  return 'error'
}
