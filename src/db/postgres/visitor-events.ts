/** Tracked events of visitors on PostgreSQL: the same rows and answers as the SQLite repo. */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { VisitorEventRepo, VisitorEventRow } from '../rows'
import { sqliteLimit } from './limit'
import { allRows, bigintColumns, firstOrNull } from './rows'

const event = bigintColumns<VisitorEventRow>('id', 'site_id', 'visitor_id', 'occurred_ms', 'received_ms')

/** Statements over `visitor_events`. */
export function createPostgresVisitorEventRepo(sql: SQL): AsyncRepo<VisitorEventRepo> {
  return {
    insert: async (siteId, visitorId, name, propertiesJson, eventId, occurredMs, receivedMs) =>
      event(
        (
          await sql`INSERT INTO visitor_events (site_id, visitor_id, name, properties, event_id, occurred_ms, received_ms)
                    VALUES (${siteId}, ${visitorId}, ${name}, ${propertiesJson}, ${eventId}, ${occurredMs}, ${receivedMs}) RETURNING *`
        )[0],
      ),
    byEventId: async (siteId, eventId) => firstOrNull(await sql`SELECT * FROM visitor_events WHERE site_id = ${siteId} AND event_id = ${eventId}`, event),
    recent: async (visitorId, limit) =>
      allRows(await sql`SELECT * FROM visitor_events WHERE visitor_id = ${visitorId} ORDER BY occurred_ms DESC, id DESC LIMIT ${sqliteLimit(limit)}`, event),
    // One statement for every cap (SQLite writes small caps into its SQL for speed; a bound LIMIT
    // costs PostgreSQL nothing extra). Counting stops at the cap, as there. SQLite refuses a cap
    // that is not an integer ("datatype mismatch") where PostgreSQL would round it: refuse it too.
    count: async (visitorId, name, sinceMs, cap) => {
      if (!Number.isInteger(cap)) throw new RangeError(`count cap must be an integer, got ${cap}`)
      return Number(
        (
          await sql`SELECT COUNT(*) AS n FROM (SELECT 1 FROM visitor_events
                      WHERE visitor_id = ${visitorId} AND name = ${name} AND occurred_ms >= ${sinceMs} LIMIT ${sqliteLimit(cap)}) AS capped`
        )[0].n,
      )
    },
    reassign: async (siteId, fromVisitorId, toVisitorId) =>
      (await sql`UPDATE visitor_events SET visitor_id = ${toVisitorId} WHERE visitor_id = ${fromVisitorId} AND site_id = ${siteId}`).count,
  }
}
