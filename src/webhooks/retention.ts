/**
 * Retention of the webhook history. Every event, delivery and attempt is kept for the delivery
 * log (`GET webhook_deliveries`, the dashboard) and for `retry`; without a limit the database of
 * a busy site grows without end. Finished history older than MLC_WEBHOOK_RETENTION_DAYS (30 by
 * default, Stripe keeps events for 30 days) is deleted; a delivery still waiting for an attempt
 * keeps its event whatever its age.
 */
import type { Clock } from '../clock'
import type { Store } from '../db/store'

const DAY_MS = 24 * 60 * 60 * 1000
/** Events deleted per transaction: each batch holds the write lock for a few milliseconds only. */
const BATCH = 500

/**
 * Deletes finished webhook events older than `retentionDays` with their deliveries and attempts,
 * in batches that yield to other work between them; resolves with how many events went.
 * `retentionDays` 0 keeps everything.
 */
export async function pruneWebhookHistory(store: Store, clock: Clock, retentionDays: number): Promise<number> {
  if (retentionDays <= 0) return 0
  const cutoffMs = clock.now() - retentionDays * DAY_MS
  let pruned = 0
  for (;;) {
    const n = await store.transaction((tx) => tx.webhooks.pruneFinishedEvents(cutoffMs, BATCH))
    pruned += n
    if (n < BATCH) return pruned
    // Let requests in between batches.
    await Bun.sleep(0)
  }
}
