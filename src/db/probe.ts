/**
 * A failed /readyz write probe in engine-neutral words. Each engine's `probeWrite` answers its own
 * code (an SQLite code, a PostgreSQL SQLSTATE or Bun connection code); this names it for the
 * operator without the caller knowing which engine answered.
 */
import { storageProblem as postgresStorageProblem } from './postgres/health'
import { storageProblem as sqliteStorageProblem } from './sqlite/health'

/** A failed write probe in engine-neutral words: what to tell the operator, and whether trying again shortly may pass. */
export interface ProbeFailure {
  /** "disk full", "locked by another connection" ... */
  problem: string
  /** Only a lock another connection holds was in the way (SQLITE_BUSY; PostgreSQL's lock timeout, 55P03). */
  lockHeld: boolean
}

/**
 * Describes the code either engine's `probeWrite` answered: an SQLite code (SQLITE_FULL ...), or
 * a SQLSTATE or Bun connection code from PostgreSQL's probe. For /readyz, which must not know
 * which engine answers.
 */
export function describeProbeFailure(code: string): ProbeFailure {
  if (code.startsWith('SQLITE_')) return { problem: sqliteStorageProblem(code), lockHeld: code === 'SQLITE_BUSY' }
  return { problem: postgresStorageProblem(code), lockHeld: code === '55P03' }
}
