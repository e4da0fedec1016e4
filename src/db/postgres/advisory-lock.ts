/**
 * `TxStore.lock` on PostgreSQL: a transaction-scoped advisory lock, `pg_advisory_xact_lock`,
 * held until the transaction ends (COMMIT or ROLLBACK release it; there is no unlock to forget).
 *
 * Why an advisory lock and not `SELECT ... FOR UPDATE` of the row about to be rewritten: a row
 * lock on a site's row would also make every insert referencing that site wait (the foreign-key
 * check takes a key-share lock on it), and a limit counted over many rows (or over none yet) has
 * no single row to lock. An advisory lock names exactly the resource and nothing else.
 *
 * The key: the first 8 bytes of SHA-256 over the name's UTF-8, read as a big-endian signed
 * 64-bit integer (the one-bigint form of the lock, whose key space is apart from the two-int4 form
 * the periodic jobs use). Computed here rather than with the server's `hashtext`, so every mlc
 * version on every PostgreSQL version derives the same key from the same name: instances of two
 * releases running side by side during an upgrade still exclude each other. Two names colliding
 * (odds 2^-64 a pair) only make one wait for the other.
 *
 * Waiting for the lock is one statement: `statement_timeout` (MLC_DATABASE_STATEMENT_TIMEOUT_MS)
 * cancels it (57014) and `lock_timeout` (store.withoutWaiting) fails it (55P03), both mapped to
 * StorageUnavailableError by errors.ts, so a request stuck behind a long holder answers 503.
 */
import type { SQL } from 'bun'

/** The advisory lock key of `name`, as a decimal string (Bun.sql sends it as text, cast to bigint). */
export function advisoryLockKey(name: string): string {
  const digest = new Bun.CryptoHasher('sha256').update(name).digest()
  return digest.readBigInt64BE(0).toString()
}

/** Waits for and takes the transaction-scoped advisory lock of `name` on `tx` (a transaction's connection). */
export async function lockInTransaction(tx: SQL, name: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(${advisoryLockKey(name)}::bigint)`
}
