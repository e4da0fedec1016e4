/**
 * Several statements as one unit, whether the repository was built over the pool or over an open
 * transaction (the store hands repositories either). Bun.sql refuses `begin()` inside a
 * transaction, so there the unit is a savepoint, which is also what a nested bun:sqlite
 * transaction is: its failure undoes its own statements and leaves the caller's to decide.
 */
import type { SQL, TransactionSQL } from 'bun'

/** Runs `work` in a new transaction on a pool or reserved connection, in a savepoint inside a transaction. */
export async function atomically<T>(sql: SQL, work: (tx: SQL) => Promise<T>): Promise<T> {
  const savepoint = (sql as Partial<TransactionSQL>).savepoint
  if (typeof savepoint === 'function') return (await savepoint.call(sql, work)) as T
  return (await sql.begin(work)) as T
}
