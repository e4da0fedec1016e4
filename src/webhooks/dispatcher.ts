/**
 * The request thread's handle on webhook delivery. `wake()` after a commit that enqueued events;
 * `status()` for /readyz; `stop()` on shutdown. The real one runs the worker thread; the idle one
 * (apps built without a server, e.g. most tests) only keeps the outbox.
 */
import type { Clock } from '../clock'
import type { Store } from '../db/store'
import type { AttemptSummary } from './protocol'

/** What /readyz and operators see of the delivery queue. */
export interface WebhookStatus {
  /** Whether a worker thread is running and answering. */
  alive: boolean
  /** Unfinished deliveries (pending or retrying). */
  queue_depth: number
  /** Unfinished deliveries whose next attempt is due now. */
  due: number
  /** Deliveries the worker is sending right now. */
  in_flight: number
  /** Age of the oldest unfinished delivery, or null when none. */
  oldest_pending_age_ms: number | null
  /** How late the most overdue attempt is (the worker's lag), or null when nothing is due. */
  oldest_due_lag_ms: number | null
}

export interface WebhookDispatcher {
  /** Tells the worker something may be due now; call it after the commit that enqueued. */
  wake(): void
  /** Queue and worker health. */
  status(): WebhookStatus
  /** Resolves with a delivery's next attempt outcome, or null after `timeoutMs`. */
  waitForAttempt(deliveryId: string, timeoutMs: number): Promise<AttemptSummary | null>
  /** Stops the worker: in-flight attempts finish or are handed back. */
  stop(): Promise<void>
}

/** Queue numbers from the database (shared by both dispatchers). */
export function queueStatus(store: Store, clock: Clock, alive: boolean, inFlight: number): WebhookStatus {
  const now = clock.now()
  const s = store.webhooks.queueStats(now)
  return {
    alive,
    queue_depth: s.depth,
    due: s.due,
    in_flight: inFlight,
    oldest_pending_age_ms: s.oldest_created_ms === null ? null : Math.max(0, now - s.oldest_created_ms),
    oldest_due_lag_ms: s.oldest_due_ms === null ? null : Math.max(0, now - s.oldest_due_ms),
  }
}

/** A dispatcher without a worker: events are kept in the outbox until a server with a worker runs. */
export function createIdleDispatcher(store: Store, clock: Clock): WebhookDispatcher {
  return {
    wake() {},
    status: () => queueStatus(store, clock, false, 0),
    waitForAttempt: async () => null,
    stop: async () => {},
  }
}
