/**
 * Retention of Idempotency-Keys: a key and its stored response are kept for MLC_IDEMPOTENCY_TTL
 * (24 h by default, as at Stripe) from the key's first use. An expired key is already treated as
 * unused when it comes again (src/http/idempotency.ts); this deletes the rows, so the table holds
 * about one TTL of writes.
 */
import type { Clock } from '../clock'
import type { Store } from '../db/store'

/** Keys deleted per statement: each batch holds the write lock for a few milliseconds only. */
const BATCH = 1000

/** Deletes keys first used more than `ttlSeconds` ago, in batches that yield between them; resolves with how many went. */
export async function pruneIdempotencyKeys(store: Store, clock: Clock, ttlSeconds: number): Promise<number> {
  const cutoffMs = clock.now() - ttlSeconds * 1000
  let pruned = 0
  for (;;) {
    const n = await store.idempotency.prune(cutoffMs, BATCH)
    pruned += n
    if (n < BATCH) return pruned
    // Let requests in between batches.
    await Bun.sleep(0)
  }
}
