/** Segments of a site and their memberships. Every statement is scoped by site id. */
import type { Database } from 'bun:sqlite'
import { createVersionedCache } from './versioned-cache'

export interface SegmentRow {
  id: number
  site_id: number
  name: string
  /** The rule as JSON. */
  rule: string
  created_ms: number
  updated_ms: number
}

export interface MembershipRow {
  segment_id: number
  name: string
  entered_ms: number
}

/** Prepared statements over `segments` and `segment_members`. */
export function createSegmentRepo(db: Database) {
  const list = db.query<SegmentRow, [number]>('SELECT * FROM segments WHERE site_id = ? ORDER BY id')
  const get = db.query<SegmentRow, [number, number]>('SELECT * FROM segments WHERE site_id = ? AND id = ?')
  const byName = db.query<SegmentRow, [number, string]>('SELECT * FROM segments WHERE site_id = ? AND name = ?')
  const insert = db.query<SegmentRow, [number, string, string, number, number]>(
    'INSERT INTO segments (site_id, name, rule, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?) RETURNING *',
  )
  const update = db.query<SegmentRow, [string, string, number, number, number]>(
    'UPDATE segments SET name = ?, rule = ?, updated_ms = ? WHERE site_id = ? AND id = ? RETURNING *',
  )
  const remove = db.query<{ id: number }, [number, number]>('DELETE FROM segments WHERE site_id = ? AND id = ? RETURNING id')
  const memberships = db.query<MembershipRow, [number]>(
    `SELECT m.segment_id, s.name, m.entered_ms FROM segment_members m JOIN segments s ON s.id = m.segment_id
     WHERE m.visitor_id = ? ORDER BY m.segment_id`,
  )
  const segmentIdsOf = db.query<[number], [number]>('SELECT segment_id FROM segment_members WHERE visitor_id = ?')
  const addMember = db.query<null, [number, number, number]>(
    'INSERT INTO segment_members (segment_id, visitor_id, entered_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  )
  const removeMember = db.query<null, [number, number]>('DELETE FROM segment_members WHERE segment_id = ? AND visitor_id = ?')
  const memberCount = db.query<{ n: number }, [number]>('SELECT COUNT(*) AS n FROM segment_members WHERE segment_id = ?')
  const memberIds = db.query<{ visitor_id: number }, [number]>('SELECT visitor_id FROM segment_members WHERE segment_id = ?')
  // Every track re-reads the site's segments, which rarely change: keep them in memory. The cache
  // is dropped when this repo writes a segment and whenever another connection (the CLI, another
  // process) has committed anything, which `PRAGMA data_version` reveals.
  const cache = createVersionedCache<number, SegmentRow[]>(db)
  const forget = () => cache.clear()
  return {
    /** A site's segments by id. */
    list: (siteId: number) => list.all(siteId),
    /** Drops the in-memory segment lists (after a transaction that wrote segments ends, committed or not). */
    forget,
    /** A site's segments by id, from memory when nothing changed since they were read (treat as read-only). */
    listCached: (siteId: number): readonly SegmentRow[] => cache.get(siteId, () => list.all(siteId)),
    /** One segment of a site, or null. */
    get: (siteId: number, id: number) => get.get(siteId, id),
    /** The site's segment with this name, or null. */
    byName: (siteId: number, name: string) => byName.get(siteId, name),
    /** Inserts a segment. */
    insert: (siteId: number, name: string, ruleJson: string, nowMs: number) => {
      forget()
      return insert.get(siteId, name, ruleJson, nowMs, nowMs) as SegmentRow
    },
    /** Replaces name and rule; null if it is not the site's. */
    update: (siteId: number, id: number, name: string, ruleJson: string, nowMs: number) => {
      forget()
      return update.get(name, ruleJson, nowMs, siteId, id)
    },
    /** Deletes a segment and its memberships; false if it is not the site's. */
    remove: (siteId: number, id: number) => {
      forget()
      return remove.get(siteId, id) !== null
    },
    /** The segments a visitor is in, with entry times. */
    memberships: (visitorId: number) => memberships.all(visitorId),
    /** The ids of the segments a visitor is in (the membership check of every track: no join, no objects). */
    segmentIdsOf: (visitorId: number): number[] => segmentIdsOf.values(visitorId).map((row) => row[0] as number),
    /** Puts a visitor in a segment (no-op when already in, keeping the first entry time). */
    addMember: (segmentId: number, visitorId: number, enteredMs: number) => void addMember.run(segmentId, visitorId, enteredMs),
    /** Takes a visitor out of a segment. */
    removeMember: (segmentId: number, visitorId: number) => void removeMember.run(segmentId, visitorId),
    /** How many visitors are in a segment. */
    memberCount: (segmentId: number) => memberCount.get(segmentId)?.n ?? 0,
    /** Ids of a segment's members. */
    memberIds: (segmentId: number) => memberIds.all(segmentId).map((r) => r.visitor_id),
  }
}
export type SegmentRepo = ReturnType<typeof createSegmentRepo>
