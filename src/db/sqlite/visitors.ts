/** Visitors of a site, keyed by the site's stable key. Every statement is scoped by site id. */
import type { Database } from 'bun:sqlite'

export interface VisitorRow {
  id: number
  site_id: number
  key: string
  email: string | null
  name: string | null
  /** Custom attributes as a JSON object. */
  attributes: string
  event_count: number
  first_seen_ms: number
  last_seen_ms: number
  updated_ms: number
}

/** Filters and cursor of a visitor listing (newest activity first). */
export interface VisitorListFilter {
  segmentId?: number | null
  email?: string | null
  updatedSinceMs?: number | null
  /** Position after which to continue: the last row of the previous page. */
  after?: { lastSeenMs: number; id: number } | null
  limit: number
}

type ListParams = [number, number | null, string | null, number | null, number | null, number | null, number]

/** Prepared statements over `visitors`. */
export function createVisitorRepo(db: Database) {
  const byKey = db.query<VisitorRow, [number, string]>('SELECT * FROM visitors WHERE site_id = ? AND key = ?')
  const byId = db.query<VisitorRow, [number, number]>('SELECT * FROM visitors WHERE site_id = ? AND id = ?')
  const insert = db.query<VisitorRow, [number, string, string | null, string | null, string, number, number, number]>(
    'INSERT INTO visitors (site_id, key, email, name, attributes, first_seen_ms, last_seen_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *',
  )
  const insertTracked = db.query<VisitorRow, [number, string, number, number, number, number]>(
    `INSERT INTO visitors (site_id, key, attributes, event_count, first_seen_ms, last_seen_ms, updated_ms)
     VALUES (?, ?, '{}', 1, ?, MAX(?, ?), ?) RETURNING *`,
  )
  const updateProfile = db.query<VisitorRow, [string | null, string | null, string, number, number, number, number]>(
    `UPDATE visitors SET email = ?, name = ?, attributes = ?, last_seen_ms = MAX(last_seen_ms, ?), updated_ms = ?
     WHERE site_id = ? AND id = ? RETURNING *`,
  )
  const recordEvents = db.query<VisitorRow, [number, number, number, number, number]>(
    `UPDATE visitors SET event_count = event_count + ?, last_seen_ms = MAX(last_seen_ms, ?), updated_ms = ?
     WHERE site_id = ? AND id = ? RETURNING *`,
  )
  const absorb = db.query<VisitorRow, [number, number, number, number, number]>(
    `UPDATE visitors SET event_count = event_count + ?, first_seen_ms = MIN(first_seen_ms, ?), last_seen_ms = MAX(last_seen_ms, ?)
     WHERE site_id = ? AND id = ? RETURNING *`,
  )
  const remove = db.query<{ id: number }, [number, string]>('DELETE FROM visitors WHERE site_id = ? AND key = ? RETURNING id')
  const allIds = db.query<{ id: number }, [number]>('SELECT id FROM visitors WHERE site_id = ? ORDER BY id')
  // One statement for every filter combination: a NULL parameter switches its filter off.
  const filters = `AND (?2 IS NULL OR id IN (SELECT visitor_id FROM segment_members WHERE segment_id = ?2))
       AND (?4 IS NULL OR updated_ms >= ?4)
       AND (?5 IS NULL OR last_seen_ms < ?5 OR (last_seen_ms = ?5 AND id < ?6))
     ORDER BY last_seen_ms DESC, id DESC
     LIMIT ?7`
  const list = db.query<VisitorRow, ListParams>(`SELECT * FROM visitors WHERE site_id = ?1 AND ?3 IS NULL ${filters}`)
  // With an email the partial index on lower(email) finds the few matching rows first; without
  // statistics SQLite would rather walk the activity index to skip the sort, so it is named.
  const listByEmail = db.query<VisitorRow, ListParams>(
    `SELECT * FROM visitors INDEXED BY visitors_email WHERE site_id = ?1 AND email IS NOT NULL AND lower(email) = lower(?3) ${filters}`,
  )
  return {
    /** The site's visitor with this key, or null. */
    byKey: (siteId: number, key: string) => byKey.get(siteId, key),
    /** The site's visitor with this id, or null. */
    byId: (siteId: number, id: number) => byId.get(siteId, id),
    /** Inserts a visitor first seen now. */
    insert: (siteId: number, key: string, email: string | null, name: string | null, attributesJson: string, nowMs: number) =>
      insert.get(siteId, key, email, name, attributesJson, nowMs, nowMs, nowMs) as VisitorRow,
    /** Inserts a visitor first seen now by its first event (occurring at `occurredMs`). */
    insertTracked: (siteId: number, key: string, occurredMs: number, nowMs: number) =>
      insertTracked.get(siteId, key, nowMs, nowMs, occurredMs, nowMs) as VisitorRow,
    /** Replaces email, name and attributes and marks the visitor seen now; null if not the site's. */
    updateProfile: (siteId: number, id: number, email: string | null, name: string | null, attributesJson: string, nowMs: number) =>
      updateProfile.get(email, name, attributesJson, nowMs, nowMs, siteId, id),
    /** Counts `count` new events, the latest occurring at `occurredMs`; null if not the site's. */
    recordEvents: (siteId: number, id: number, count: number, occurredMs: number, nowMs: number) => recordEvents.get(count, occurredMs, nowMs, siteId, id),
    /** Adds a merged visitor's counts and seen times to this one; null if not the site's. */
    absorb: (siteId: number, id: number, from: { event_count: number; first_seen_ms: number; last_seen_ms: number }) =>
      absorb.get(from.event_count, from.first_seen_ms, from.last_seen_ms, siteId, id),
    /** Deletes a visitor (events and memberships cascade); the deleted id or null. */
    remove: (siteId: number, key: string) => remove.get(siteId, key)?.id ?? null,
    /** Ids of all the site's visitors (for re-evaluating a segment). */
    allIds: (siteId: number) => allIds.all(siteId).map((r) => r.id),
    /** One page of the site's visitors, newest activity first; fetches `limit` rows. */
    list: (siteId: number, f: VisitorListFilter) =>
      (f.email ? listByEmail : list).all(
        siteId,
        f.segmentId ?? null,
        f.email ?? null,
        f.updatedSinceMs ?? null,
        f.after ? f.after.lastSeenMs : null,
        f.after ? f.after.id : null,
        f.limit,
      ),
  }
}
export type VisitorRepo = ReturnType<typeof createVisitorRepo>
