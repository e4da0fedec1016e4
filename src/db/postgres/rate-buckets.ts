/**
 * Checkpoints of in-memory rate-limit buckets on PostgreSQL: the same rows and answers as the
 * SQLite repo. Only draining buckets have a row; a bucket marked `full` loses its row.
 */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { BucketRow, RateBucketRepo } from '../rows'
import { atomically } from './atomic'
import { allRows, bigintColumns } from './rows'

// tokens is DOUBLE PRECISION (SQLite's REAL) and arrives as a number already.
const bucket = bigintColumns<BucketRow>('updated_ms')

/**
 * The transaction-scoped advisory lock every write to `rate_buckets` takes ("mlcb" in ASCII):
 * SQLite's single writer, kept for this table. Instances checkpoint overlapping keys (a client IP
 * seen by two of them) and prune by age, each in its own order; serialised, they cannot deadlock.
 * They run every few seconds and take milliseconds, so queueing costs nothing that matters.
 */
const RATE_BUCKETS_LOCK_KEY = 0x6d6c6362

/** Statements over `rate_buckets`. */
export function createPostgresRateBucketRepo(sql: SQL): AsyncRepo<RateBucketRepo> {
  return {
    // No ORDER BY, as on SQLite: the caller builds a map by key.
    loadAll: async (sinceMs = 0) => allRows(await sql`SELECT key, tokens, updated_ms FROM rate_buckets WHERE updated_ms >= ${sinceMs}`, bucket),
    save: async (rows) => {
      // SQLite takes its write lock for an empty batch and changes nothing; here nothing is sent.
      if (rows.length === 0) return
      // SQLite applies the rows one by one, so for a key given twice the last one decides; one
      // statement per kind must see each key once (ON CONFLICT cannot touch a row twice).
      const last = new Map<string, BucketRow & { full?: boolean }>()
      for (const r of rows) last.set(r.key, r)
      const gone: string[] = []
      const kept = { keys: [] as string[], tokens: [] as number[], updated: [] as number[] }
      for (const r of last.values()) {
        if (r.full) gone.push(r.key)
        else {
          kept.keys.push(r.key)
          kept.tokens.push(r.tokens)
          kept.updated.push(r.updated_ms)
        }
      }
      await atomically(sql, async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${RATE_BUCKETS_LOCK_KEY})`
        if (gone.length) await tx`DELETE FROM rate_buckets WHERE key = ANY(${tx.array(gone, 'TEXT')})`
        if (kept.keys.length) {
          await tx`INSERT INTO rate_buckets (key, tokens, updated_ms)
                   SELECT * FROM unnest(${tx.array(kept.keys, 'TEXT')}, ${tx.array(kept.tokens, 'FLOAT8')}, ${tx.array(kept.updated, 'INT8')})
                   ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, updated_ms = excluded.updated_ms`
        }
      })
    },
    prune: async (beforeMs) =>
      atomically(sql, async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${RATE_BUCKETS_LOCK_KEY})`
        return (await tx`DELETE FROM rate_buckets WHERE updated_ms < ${beforeMs}`).count
      }),
  }
}
