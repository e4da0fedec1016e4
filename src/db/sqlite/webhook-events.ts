/**
 * The event feed's statements over `webhook_events` (every event mlc emitted, with or without a
 * delivery), the erasure of a visitor from stored events, and the retention of events and
 * deliveries. Part of the webhook repository (src/db/sqlite/webhooks.ts spreads them in).
 */
import type { Database } from 'bun:sqlite'

/** An event as the feed serves it: the stored body is sent as is, byte for byte. */
export interface FeedEventRow {
  id: string
  created_ms: number
  body: string
}

/** A place in the feed's `(created_ms, id)` order. */
export interface FeedPosition {
  createdMs: number
  id: string
}

export interface EventFeedFilter {
  /** Only events of this type. */
  type: string | null
  /** Only events created at or after this instant. */
  sinceMs: number | null
  /** Only events after this place in the list's order (below it newest first, above it oldest first). */
  after: FeedPosition | null
  order: 'asc' | 'desc'
  limit: number
}

/** An event a visitor erasure rewrites. */
export interface VisitorEventBody {
  id: string
  type: string
  body: string
}

/** What one batch of event retention did. */
export interface EventPruneBatch {
  /** Old events looked at (those with deliveries left are kept). */
  examined: number
  deleted: number
  /** Where the next batch starts: the last event looked at, or null when none was. */
  last: FeedPosition | null
}

/**
 * The feed's four statements (order x type filter). Every bound is a range on the index, even an
 * absent one (a sentinel below or above every row): a page deep in the history reads from its
 * cursor, not from the top of the list. Oldest first, `since` and the cursor are both lower bounds
 * and SQLite ranges over one of them only, so the caller passes the higher as one position. The
 * index is named: without statistics the planner would take the (site_id, created_ms, id) index
 * for a type filter too, reading every event of the site to find one type.
 */
function feedSql(order: 'asc' | 'desc', byType: boolean): string {
  const index = byType ? 'webhook_events_site_type' : 'webhook_events_site_created'
  const bounds = order === 'desc' ? 'created_ms >= ? AND (created_ms, id) < (?, ?)' : '(created_ms, id) > (?, ?)'
  const dir = order === 'desc' ? 'DESC' : 'ASC'
  return `SELECT id, created_ms, body FROM webhook_events INDEXED BY ${index}
    WHERE site_id = ? ${byType ? 'AND type = ?' : ''} AND ${bounds}
    ORDER BY created_ms ${dir}, id ${dir} LIMIT ?`
}

/** The later of two positions. */
function later(a: FeedPosition, b: FeedPosition): FeedPosition {
  return a.createdMs > b.createdMs || (a.createdMs === b.createdMs && a.id > b.id) ? a : b
}

/** Below and above every stored position (ids start with "evt_", after "" and before "~"). */
const FIRST: FeedPosition = { createdMs: Number.MIN_SAFE_INTEGER, id: '' }
const LAST: FeedPosition = { createdMs: Number.MAX_SAFE_INTEGER, id: '~' }

/** Prepared statements of the event feed, erasure and retention. */
export function createWebhookEventStatements(db: Database) {
  const feed = {
    desc: db.query<FeedEventRow, [number, number, number, string, number]>(feedSql('desc', false)),
    descByType: db.query<FeedEventRow, [number, string, number, number, string, number]>(feedSql('desc', true)),
    asc: db.query<FeedEventRow, [number, number, string, number]>(feedSql('asc', false)),
    ascByType: db.query<FeedEventRow, [number, string, number, string, number]>(feedSql('asc', true)),
  }
  const siteEvent = db.query<FeedEventRow, [number, string]>('SELECT id, created_ms, body FROM webhook_events WHERE site_id = ? AND id = ?')
  const ofVisitor = db.query<VisitorEventBody, [number, string]>(
    'SELECT id, type, body FROM webhook_events INDEXED BY webhook_events_visitor WHERE site_id = ? AND visitor_key = ?',
  )
  const rewrite = db.query<null, [string, number, string]>('UPDATE webhook_events SET body = ?, visitor_key = NULL WHERE site_id = ? AND id = ?')
  // Finished (not waiting for an attempt, not leased) and old; deleting one takes its attempts.
  const pruneDeliveries = db.query<null, [number, number]>(
    `DELETE FROM webhook_deliveries WHERE seq IN (
       SELECT seq FROM webhook_deliveries WHERE created_ms < ? AND next_attempt_ms IS NULL AND lease_until_ms IS NULL
       ORDER BY created_ms, seq LIMIT ?)`,
  )
  const oldEvents = db.query<{ id: string; created_ms: number; kept: number }, [number, number, string, number]>(
    `SELECT e.id, e.created_ms, EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) AS kept
     FROM webhook_events e WHERE e.created_ms < ? AND (e.created_ms, e.id) > (?, ?)
     ORDER BY e.created_ms, e.id LIMIT ?`,
  )
  const deleteUndelivered = db.query<null, [string]>(
    `DELETE FROM webhook_events WHERE id IN (SELECT value FROM json_each(?))
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)`,
  )

  return {
    /** A page of a site's events in `(created_ms, id)` order, newest or oldest first. */
    listEvents: (siteId: number, f: EventFeedFilter): FeedEventRow[] => {
      const since = f.sinceMs ?? Number.MIN_SAFE_INTEGER
      if (f.order === 'desc') {
        const before = f.after ?? LAST
        if (f.type !== null) return feed.descByType.all(siteId, f.type, since, before.createdMs, before.id, f.limit)
        return feed.desc.all(siteId, since, before.createdMs, before.id, f.limit)
      }
      // `created_ms >= since` is every position after (since, ""): no id is "".
      const from = later({ createdMs: since, id: '' }, f.after ?? FIRST)
      if (f.type !== null) return feed.ascByType.all(siteId, f.type, from.createdMs, from.id, f.limit)
      return feed.asc.all(siteId, from.createdMs, from.id, f.limit)
    },
    /** One event of a site with its stored body, or null (unknown, or another site's). */
    getSiteEvent: (siteId: number, id: string) => siteEvent.get(siteId, id),
    /** A site's events about a visitor (their `visitor.key`). */
    eventsOfVisitor: (siteId: number, visitorKey: string) => ofVisitor.all(siteId, visitorKey),
    /** Replaces an event's body with its erased form; the event is no longer tied to a visitor. */
    rewriteErasedEvent: (siteId: number, id: string, body: string) => void rewrite.run(body, siteId, id),
    /** Deletes up to `limit` finished deliveries created before `cutoffMs`, with their attempts; how many. */
    pruneFinishedDeliveries: (cutoffMs: number, limit: number): number => pruneDeliveries.run(cutoffMs, limit).changes,
    /**
     * Looks at up to `limit` events created before `cutoffMs`, after `after` in `(created_ms, id)`
     * order, and deletes those no delivery refers to any more (a delivery still kept, pending or
     * in the delivery log, keeps its event).
     */
    pruneEvents: (cutoffMs: number, after: FeedPosition | null, limit: number): EventPruneBatch => {
      const from = after ?? FIRST
      const rows = oldEvents.all(cutoffMs, from.createdMs, from.id, limit)
      const gone = rows.filter((r) => !r.kept).map((r) => r.id)
      const deleted = gone.length ? deleteUndelivered.run(JSON.stringify(gone)).changes : 0
      const last = rows.at(-1)
      return { examined: rows.length, deleted, last: last ? { createdMs: last.created_ms, id: last.id } : null }
    },
  }
}
export type WebhookEventStatements = ReturnType<typeof createWebhookEventStatements>
