/**
 * Storage errors in words common to both engines. Each engine maps its driver's errors to these
 * (src/db/postgres/errors.ts for PostgreSQL), so a service tells "that name is taken" from "the
 * database cannot answer now" without knowing which database answered, and no driver code
 * (SQLITE_CONSTRAINT_UNIQUE, SQLSTATE 23505) leaks above `src/db/`.
 */

/** Base of the errors an engine raises in common words; `cause` keeps the driver's error for the log. */
export class StorageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/**
 * A write would duplicate a unique key (a tag name within a site, a token hash, an email ...).
 * The message names the constraint, never the duplicated values (they may be secrets' hashes).
 */
export class UniqueViolationError extends StorageError {
  constructor(
    /** The engine's name of the unique constraint or index, when it says. */
    readonly constraint: string | null,
    /** The key's columns (as the engine names them), when it says; empty otherwise. */
    readonly columns: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`duplicate key${constraint ? ` (${constraint})` : ''}${columns.length ? ` on ${columns.join(', ')}` : ''}`, options)
  }
}

/** Why the database could not serve a request (each is "try again later", never a bug). */
export type StorageUnavailableReason =
  /** The connection is lost or cannot be made (server down, restarting, refused). */
  | 'connection'
  /** A statement ran past the configured statement timeout. */
  | 'timeout'
  /** The server is out of something (disk, memory, connections). */
  | 'resources'
  /** The transaction lost a serialization race or a deadlock: running it again should succeed. */
  | 'conflict'

/** The database cannot serve the request now; callers answer 503 (or retry when `retryable`). */
export class StorageUnavailableError extends StorageError {
  constructor(
    readonly reason: StorageUnavailableReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }

  /** True when running the whole transaction again at once is the cure (serialization failure, deadlock). */
  get retryable(): boolean {
    return this.reason === 'conflict'
  }
}

/** Raised when the database was written by a newer mlc (either engine's migrator, or a restore of a newer backup). */
export class SchemaTooNewError extends Error {}
