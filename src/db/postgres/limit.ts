/**
 * LIMIT as SQLite reads it. SQLite takes a negative LIMIT as "no limit"; PostgreSQL refuses one
 * ("LIMIT must not be negative") and reads a NULL LIMIT as no limit. Repositories pass callers'
 * limits through this so a limit answers the same rows on both engines.
 */

/** The PostgreSQL LIMIT value for a limit SQLite was given (null: no limit). */
export function sqliteLimit(limit: number): number | null {
  return limit < 0 ? null : limit
}
