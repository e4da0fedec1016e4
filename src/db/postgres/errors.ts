/**
 * PostgreSQL errors in the engines' common words (src/db/errors.ts). Bun.sql raises
 * `SQL.PostgresError`: `errno` carries the server's SQLSTATE, `code` Bun's own code for what
 * happens on the client side (a refused or closed connection). Anything else passes through
 * unchanged: a syntax error or a foreign-key violation is a bug to log, not a 409 or a 503.
 */
import { SQL } from 'bun'
import { StorageUnavailableError, UniqueViolationError } from '../errors'

/** Bun's client-side codes that mean the connection is gone or cannot be made. */
const CONNECTION_CODES = new Set([
  'ERR_POSTGRES_CONNECTION_CLOSED',
  'ERR_POSTGRES_CONNECTION_REFUSED',
  'ERR_POSTGRES_CONNECTION_FAILED',
  'ERR_POSTGRES_CONNECTION_TIMEOUT',
  'ERR_POSTGRES_IDLE_TIMEOUT',
  'ERR_POSTGRES_LIFETIME_TIMEOUT',
])

/** The key columns of a unique violation, read from its detail: `Key (site_id, name)=(...) already exists.` */
function keyColumns(detail: string | undefined): string[] {
  const m = detail ? /^Key \((.+?)\)=\(/.exec(detail) : null
  return m?.[1] ? m[1].split(', ') : []
}

/** The engine-neutral error for `err`, or `err` itself when it is not one of the mapped kinds. */
export function fromPostgresError(err: unknown): unknown {
  if (!(err instanceof SQL.PostgresError)) return err
  const state = err.errno ?? ''
  const cause = { cause: err }
  if (state === '23505') return new UniqueViolationError(err.constraint ?? null, keyColumns(err.detail), cause)
  if (state === '40001' || state === '40P01') return new StorageUnavailableError('conflict', `transaction must be retried: ${err.message}`, cause)
  // lock_timeout: a lock another session holds was not granted in time (store.withoutWaiting).
  if (state === '55P03') return new StorageUnavailableError('conflict', `lock not available: ${err.message}`, cause)
  if (state === '57014') return new StorageUnavailableError('timeout', `statement timed out: ${err.message}`, cause)
  // Class 08: connection exceptions; 57P01-57P03: the server is shutting down, crashed or starting up.
  if (state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03' || CONNECTION_CODES.has(err.code)) {
    return new StorageUnavailableError('connection', `database connection unavailable: ${err.message}`, cause)
  }
  // Class 53: insufficient resources (disk full, out of memory, too many connections).
  if (state.startsWith('53')) return new StorageUnavailableError('resources', `database out of resources: ${err.message}`, cause)
  return err
}

/** Awaits `work` and rethrows a PostgreSQL error in the engines' common words. */
export async function mappingPostgresErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    throw fromPostgresError(err)
  }
}

/** `repo` with every method's PostgreSQL errors mapped (what the store hands services). */
export function withPostgresErrors<R extends object>(repo: R): R {
  const out: Record<string, unknown> = {}
  for (const [name, method] of Object.entries(repo as Record<string, unknown>)) {
    out[name] = typeof method === 'function' ? (...args: unknown[]) => mappingPostgresErrors(() => method(...args)) : method
  }
  return out as R
}
