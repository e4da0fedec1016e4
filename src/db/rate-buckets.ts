/** Checkpoints of in-memory rate-limit buckets, so a restart does not hand out full buckets. */
import type { Database } from 'bun:sqlite'

export interface BucketRow {
  key: string
  tokens: number
  updated_ms: number
}

/** Prepared statements over `rate_buckets`. */
export function createRateBucketRepo(db: Database) {
  const all = db.query<BucketRow, []>('SELECT * FROM rate_buckets')
  const upsert = db.query<never, [string, number, number]>(
    'INSERT INTO rate_buckets (key, tokens, updated_ms) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, updated_ms = excluded.updated_ms',
  )
  const prune = db.query<never, [number]>('DELETE FROM rate_buckets WHERE updated_ms < ?')
  const save = db.transaction((rows: BucketRow[]) => {
    for (const r of rows) upsert.run(r.key, r.tokens, r.updated_ms)
  })
  return {
    /** Every checkpointed bucket. */
    loadAll: () => all.all(),
    /** Writes buckets in one transaction. */
    save: (rows: BucketRow[]) => save.immediate(rows),
    /** Drops checkpoints older than `beforeMs` (those buckets are full again anyway). */
    prune: (beforeMs: number) => {
      prune.run(beforeMs)
    },
  }
}
export type RateBucketRepo = ReturnType<typeof createRateBucketRepo>
