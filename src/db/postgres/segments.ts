/**
 * Segments of a site and their memberships on PostgreSQL: the same rows and answers as the SQLite
 * repo. SQLite keeps each site's segment list in memory, invalidated by `PRAGMA data_version`;
 * that signal does not exist across PostgreSQL instances, so for now every read queries (cache
 * invalidation across instances comes with the multi-instance work). `forget` is kept, a no-op.
 */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { MembershipRow, SegmentRepo, SegmentRow } from '../rows'
import { allRows, bigintColumns, firstOrNull } from './rows'

const segment = bigintColumns<SegmentRow>('id', 'site_id', 'created_ms', 'updated_ms')
const membership = bigintColumns<MembershipRow>('segment_id', 'entered_ms')

/** Statements over `segments` and `segment_members`. */
export function createPostgresSegmentRepo(sql: SQL): AsyncRepo<SegmentRepo> {
  const list = async (siteId: number) => allRows(await sql`SELECT * FROM segments WHERE site_id = ${siteId} ORDER BY id`, segment)
  return {
    list,
    forget: async () => {},
    listCached: list,
    get: async (siteId, id) => firstOrNull(await sql`SELECT * FROM segments WHERE site_id = ${siteId} AND id = ${id}`, segment),
    byName: async (siteId, name) => firstOrNull(await sql`SELECT * FROM segments WHERE site_id = ${siteId} AND name = ${name}`, segment),
    insert: async (siteId, name, ruleJson, nowMs) =>
      segment(
        (
          await sql`INSERT INTO segments (site_id, name, rule, created_ms, updated_ms)
                    VALUES (${siteId}, ${name}, ${ruleJson}, ${nowMs}, ${nowMs}) RETURNING *`
        )[0],
      ),
    update: async (siteId, id, name, ruleJson, nowMs) =>
      firstOrNull(
        await sql`UPDATE segments SET name = ${name}, rule = ${ruleJson}, updated_ms = ${nowMs} WHERE site_id = ${siteId} AND id = ${id} RETURNING *`,
        segment,
      ),
    remove: async (siteId, id) => (await sql`DELETE FROM segments WHERE site_id = ${siteId} AND id = ${id} RETURNING id`).length > 0,
    memberships: async (visitorId) =>
      allRows(
        await sql`SELECT m.segment_id, s.name, m.entered_ms FROM segment_members m JOIN segments s ON s.id = m.segment_id
                  WHERE m.visitor_id = ${visitorId} ORDER BY m.segment_id`,
        membership,
      ),
    // SQLite answers these in rowid order, that is the order the memberships were made; entry time
    // then segment id is that order whenever entries are recorded as time goes (they are). Callers
    // use the answer as a set.
    segmentIdsOf: async (visitorId) =>
      (await sql`SELECT segment_id FROM segment_members WHERE visitor_id = ${visitorId} ORDER BY entered_ms, segment_id`).map((r: { segment_id: string }) =>
        Number(r.segment_id),
      ),
    addMember: async (segmentId, visitorId, enteredMs) => {
      await sql`INSERT INTO segment_members (segment_id, visitor_id, entered_ms) VALUES (${segmentId}, ${visitorId}, ${enteredMs}) ON CONFLICT DO NOTHING`
    },
    removeMember: async (segmentId, visitorId) => {
      await sql`DELETE FROM segment_members WHERE segment_id = ${segmentId} AND visitor_id = ${visitorId}`
    },
    memberCount: async (segmentId) => Number((await sql`SELECT COUNT(*) AS n FROM segment_members WHERE segment_id = ${segmentId}`)[0].n),
    // SQLite reads these from the primary key's index, so by visitor id.
    memberIds: async (segmentId) =>
      (await sql`SELECT visitor_id FROM segment_members WHERE segment_id = ${segmentId} ORDER BY visitor_id`).map((r: { visitor_id: string }) =>
        Number(r.visitor_id),
      ),
  }
}
