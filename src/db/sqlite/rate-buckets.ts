/**
 * Checkpoints of in-memory rate-limit buckets, so a restart does not hand out full buckets. Only
 * draining buckets have a row: a full bucket is what a key without a row gets, so its row is
 * deleted (src/ratelimit/token-bucket.ts decides which is which). A row a window old is a full
 * bucket whatever its level, so start-up loads only the last window's rows and `prune` drops the
 * rest.
 */
import type { Database } from 'bun:sqlite'

export interface BucketRow {
  key: string
  tokens: number
  updated_ms: number
}

/** Prepared statements over `rate_buckets`. */
export function createRateBucketRepo(db: Database) {
  const since = db.query<BucketRow, [number]>('SELECT key, tokens, updated_ms FROM rate_buckets WHERE updated_ms >= ?')
  const upsert = db.query<never, [string, number, number]>(
    'INSERT INTO rate_buckets (key, tokens, updated_ms) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, updated_ms = excluded.updated_ms',
  )
  const remove = db.query<never, [string]>('DELETE FROM rate_buckets WHERE key = ?')
  const prune = db.query<never, [number]>('DELETE FROM rate_buckets WHERE updated_ms < ?')
  const save = db.transaction((rows: (BucketRow & { full?: boolean })[]) => {
    for (const r of rows) {
      if (r.full) remove.run(r.key)
      else upsert.run(r.key, r.tokens, r.updated_ms)
    }
  })
  return {
    /** Checkpointed buckets updated at or after `sinceMs` (older ones are full again: pass now - window). */
    loadAll: (sinceMs = 0) => since.all(sinceMs),
    /** Writes buckets in one transaction: a row per draining bucket; rows marked `full` are deleted. */
    save: (rows: (BucketRow & { full?: boolean })[]) => save.immediate(rows),
    /** Drops checkpoints older than `beforeMs` (those buckets are full again anyway); returns how many. */
    prune: (beforeMs: number) => prune.run(beforeMs).changes,
  }
}
export type RateBucketRepo = ReturnType<typeof createRateBucketRepo>
