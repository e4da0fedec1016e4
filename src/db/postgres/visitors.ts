/** Visitors of a site on PostgreSQL: the same rows and answers as the SQLite repo. */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { VisitorListFilter, VisitorRepo, VisitorRow } from '../rows'
import { sqliteLimit } from './limit'
import { allRows, bigintColumns, firstOrNull } from './rows'

const visitor = bigintColumns<VisitorRow>('id', 'site_id', 'event_count', 'first_seen_ms', 'last_seen_ms', 'updated_ms')

/** Statements over `visitors`. */
export function createPostgresVisitorRepo(sql: SQL): AsyncRepo<VisitorRepo> {
  /**
   * One page of `list`. Each filter is a fragment present only when set (rather than SQLite's
   * `? IS NULL OR ...`), so every combination is its own statement with its own plan, and the
   * cursor is a row comparison the activity index (site_id, last_seen_ms, id) can seek to.
   */
  const page = async (siteId: number, f: VisitorListFilter) => {
    const email = f.email ?? null
    // SQLite takes the email branch only for a non-empty email; an empty one reaches `?3 IS NULL`,
    // which is false, so the page is empty. Same here.
    if (email === '') return []
    const bySegment = f.segmentId != null ? sql`AND id IN (SELECT visitor_id FROM segment_members WHERE segment_id = ${f.segmentId})` : sql``
    // SQLite's lower() folds ASCII only; lower() under the "C" collation does the same on every
    // server locale, and the partial index visitors_email is built on this very expression.
    const byEmail = email !== null ? sql`AND email IS NOT NULL AND lower(email COLLATE "C") = lower(${email} COLLATE "C")` : sql``
    const since = f.updatedSinceMs != null ? sql`AND updated_ms >= ${f.updatedSinceMs}` : sql``
    const after = f.after ? sql`AND (last_seen_ms, id) < (${f.after.lastSeenMs}::bigint, ${f.after.id}::bigint)` : sql``
    return allRows(
      await sql`SELECT * FROM visitors WHERE site_id = ${siteId} ${byEmail} ${bySegment} ${since} ${after}
                ORDER BY last_seen_ms DESC, id DESC LIMIT ${sqliteLimit(f.limit)}`,
      visitor,
    )
  }
  return {
    byKey: async (siteId, key) => firstOrNull(await sql`SELECT * FROM visitors WHERE site_id = ${siteId} AND key = ${key}`, visitor),
    byId: async (siteId, id) => firstOrNull(await sql`SELECT * FROM visitors WHERE site_id = ${siteId} AND id = ${id}`, visitor),
    insert: async (siteId, key, email, name, attributesJson, nowMs) =>
      visitor(
        (
          await sql`INSERT INTO visitors (site_id, key, email, name, attributes, first_seen_ms, last_seen_ms, updated_ms)
                    VALUES (${siteId}, ${key}, ${email}, ${name}, ${attributesJson}, ${nowMs}, ${nowMs}, ${nowMs}) RETURNING *`
        )[0],
      ),
    insertTracked: async (siteId, key, occurredMs, nowMs) =>
      visitor(
        (
          await sql`INSERT INTO visitors (site_id, key, attributes, event_count, first_seen_ms, last_seen_ms, updated_ms)
                    VALUES (${siteId}, ${key}, '{}', 1, ${nowMs}, GREATEST(${nowMs}::bigint, ${occurredMs}::bigint), ${nowMs}) RETURNING *`
        )[0],
      ),
    updateProfile: async (siteId, id, email, name, attributesJson, nowMs) =>
      firstOrNull(
        await sql`UPDATE visitors SET email = ${email}, name = ${name}, attributes = ${attributesJson},
                    last_seen_ms = GREATEST(last_seen_ms, ${nowMs}::bigint), updated_ms = ${nowMs}
                  WHERE site_id = ${siteId} AND id = ${id} RETURNING *`,
        visitor,
      ),
    recordEvents: async (siteId, id, count, occurredMs, nowMs) =>
      firstOrNull(
        await sql`UPDATE visitors SET event_count = event_count + ${count}, last_seen_ms = GREATEST(last_seen_ms, ${occurredMs}::bigint), updated_ms = ${nowMs}
                  WHERE site_id = ${siteId} AND id = ${id} RETURNING *`,
        visitor,
      ),
    absorb: async (siteId, id, from) =>
      firstOrNull(
        await sql`UPDATE visitors SET event_count = event_count + ${from.event_count},
                    first_seen_ms = LEAST(first_seen_ms, ${from.first_seen_ms}::bigint), last_seen_ms = GREATEST(last_seen_ms, ${from.last_seen_ms}::bigint)
                  WHERE site_id = ${siteId} AND id = ${id} RETURNING *`,
        visitor,
      ),
    remove: async (siteId, key) => {
      const row = (await sql`DELETE FROM visitors WHERE site_id = ${siteId} AND key = ${key} RETURNING id`)[0]
      return row ? Number(row.id) : null
    },
    allIds: async (siteId) => (await sql`SELECT id FROM visitors WHERE site_id = ${siteId} ORDER BY id`).map((r: { id: string }) => Number(r.id)),
    list: page,
  }
}
