/**
 * SQLite errors in the engines' common words (src/db/errors.ts). bun:sqlite raises `SQLiteError`
 * with an extended result code in `code` (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_FULL` ...).
 * Anything else passes through unchanged: a syntax error or a foreign-key violation is a bug.
 */
import { StorageUnavailableError, UniqueViolationError } from '../errors'

/** The engine-neutral error for `err`, or `err` itself when it is not one of the mapped kinds. */
export function fromSqliteError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err
  const cause = { cause: err }
  const message = (err as Error).message ?? code
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    // "UNIQUE constraint failed: tags.site_id, tags.name"
    const m = /constraint failed: (.+)$/.exec(message)
    const columns = m?.[1] ? m[1].split(', ').map((c) => c.slice(c.indexOf('.') + 1)) : []
    return new UniqueViolationError(null, columns, cause)
  }
  if (code.startsWith('SQLITE_FULL')) return new StorageUnavailableError('resources', `disk full: ${message}`, cause)
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StorageUnavailableError('conflict', `database locked by another connection: ${message}`, cause)
  }
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN')) {
    return new StorageUnavailableError('connection', `database file unavailable: ${message}`, cause)
  }
  return err
}
