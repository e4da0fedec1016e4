/**
 * Retention of the webhook history and of the event feed; without a limit the database of a busy
 * site grows without end. Two settings, one rule that lets neither delete what the other keeps:
 *
 * - A delivery with its attempts (the delivery log, `retry`) goes once it is finished (succeeded
 *   or dead: not waiting for an attempt, not being sent) and older than MLC_WEBHOOK_RETENTION_DAYS.
 * - An event (the feed, and the body its deliveries send) goes once it is older than
 *   MLC_EVENT_RETENTION_DAYS and no delivery of it is left. So a delivery still pending or
 *   retrying keeps its event whatever its age, and so does a delivery the log still keeps: the
 *   feed keeps an event at least MLC_EVENT_RETENTION_DAYS, longer while its delivery history lasts.
 *
 * Both default to 30 days (Stripe keeps events for 30 days); 0 keeps that part forever.
 */
import type { Clock } from '../clock'
import type { EventPruneBatch, FeedPosition } from '../db/rows'
import type { Store } from '../db/store'

const DAY_MS = 24 * 60 * 60 * 1000
/** Rows deleted (or looked at) per transaction: each batch holds the write lock for a few milliseconds only. */
const BATCH = 500

/** How long each part is kept, in days (0: forever). */
export interface RetentionDays {
  /** MLC_WEBHOOK_RETENTION_DAYS: finished deliveries and their attempts. */
  deliveries: number
  /** MLC_EVENT_RETENTION_DAYS: events no delivery refers to any more. */
  events: number
}

/**
 * Deletes finished deliveries (with their attempts), then events, past their retention, in
 * batches that yield to other work between them; resolves with how many of each went.
 */
export async function pruneWebhookHistory(store: Store, clock: Clock, days: RetentionDays): Promise<{ deliveries: number; events: number }> {
  const now = clock.now()
  let deliveries = 0
  if (days.deliveries > 0) {
    const cutoffMs = now - days.deliveries * DAY_MS
    for (;;) {
      const n = await store.transaction((tx) => tx.webhooks.pruneFinishedDeliveries(cutoffMs, BATCH))
      deliveries += n
      if (n < BATCH) break
      // Let requests in between batches.
      await Bun.sleep(0)
    }
  }
  let events = 0
  if (days.events > 0) {
    const cutoffMs = now - days.events * DAY_MS
    // A keyset walk: events a delivery still keeps are stepped over once per run, not read again by every batch.
    let after: FeedPosition | null = null
    for (;;) {
      const from: FeedPosition | null = after
      const batch: EventPruneBatch = await store.transaction((tx) => tx.webhooks.pruneEvents(cutoffMs, from, BATCH))
      events += batch.deleted
      if (batch.examined < BATCH || batch.last === null) break
      after = batch.last
      await Bun.sleep(0)
    }
  }
  return { deliveries, events }
}
