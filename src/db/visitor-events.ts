/** Tracked events of visitors. Reads by visitor go through the visitor's (site-scoped) id. */
import type { Database } from 'bun:sqlite'

export interface VisitorEventRow {
  id: number
  site_id: number
  visitor_id: number
  name: string
  /** Properties as a JSON object. */
  properties: string
  /** The caller's idempotency id, when sent. */
  event_id: string | null
  occurred_ms: number
  received_ms: number
}

/** Prepared statements over `visitor_events`. */
export function createVisitorEventRepo(db: Database) {
  const insert = db.query<VisitorEventRow, [number, number, string, string, string | null, number, number]>(
    'INSERT INTO visitor_events (site_id, visitor_id, name, properties, event_id, occurred_ms, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *',
  )
  const byEventId = db.query<VisitorEventRow, [number, string]>('SELECT * FROM visitor_events WHERE site_id = ? AND event_id = ?')
  const recent = db.query<VisitorEventRow, [number, number]>('SELECT * FROM visitor_events WHERE visitor_id = ? ORDER BY occurred_ms DESC, id DESC LIMIT ?')
  // Counting stops at `cap`: a rule only needs to know "at least N", and a busy visitor may have
  // many thousand events of one name.
  const count = db.query<{ n: number }, [number, string, number, number]>(
    'SELECT COUNT(*) AS n FROM (SELECT 1 FROM visitor_events WHERE visitor_id = ? AND name = ? AND occurred_ms >= ? LIMIT ?) AS capped',
  )
  const reassign = db.query<{ n: number }, [number, number, number]>(
    'UPDATE visitor_events SET visitor_id = ? WHERE visitor_id = ? AND site_id = ? RETURNING 1 AS n',
  )
  return {
    /** Stores one event. */
    insert: (siteId: number, visitorId: number, name: string, propertiesJson: string, eventId: string | null, occurredMs: number, receivedMs: number) =>
      insert.get(siteId, visitorId, name, propertiesJson, eventId, occurredMs, receivedMs) as VisitorEventRow,
    /** The site's event stored under this idempotency id, or null. */
    byEventId: (siteId: number, eventId: string) => byEventId.get(siteId, eventId),
    /** A visitor's latest events, most recent first. */
    recent: (visitorId: number, limit: number) => recent.all(visitorId, limit),
    /** How many `name` events a visitor has at or after `sinceMs`, counting no further than `cap`. */
    count: (visitorId: number, name: string, sinceMs: number, cap: number) => count.get(visitorId, name, sinceMs, cap)?.n ?? 0,
    /** Moves a visitor's events to another visitor of the same site; how many moved. */
    reassign: (siteId: number, fromVisitorId: number, toVisitorId: number) => reassign.all(toVisitorId, fromVisitorId, siteId).length,
  }
}
export type VisitorEventRepo = ReturnType<typeof createVisitorEventRepo>
