/**
 * The event feed, visitor erasure and retention statements over `webhook_events` on PostgreSQL:
 * the SQLite engine's rows and answers (src/db/sqlite/webhook-events.ts). `id` is compared and
 * sorted in the "C" collation, byte order as SQLite compares it, which the indexes of migration 008
 * are built on: under a locale's collation a cursor could land elsewhere on the two engines.
 */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { EventPruneBatch, FeedEventRow, VisitorEventBody, WebhookEventStatements } from '../rows'
import { atomically } from './atomic'
import { sqliteLimit } from './limit'
import { allRows, bigintColumns, firstOrNull } from './rows'

const feedRow = bigintColumns<FeedEventRow>('created_ms')
const visitorEvent = bigintColumns<VisitorEventBody>()
const oldEvent = bigintColumns<{ id: string; created_ms: number; kept: boolean }>('created_ms')

/** The webhook repository's event statements on PostgreSQL. */
export function createPostgresWebhookEventStatements(sql: SQL): AsyncRepo<WebhookEventStatements> {
  return {
    // Each filter is a fragment present only when set, so each combination gets a plan that uses its index.
    listEvents: async (siteId, f) => {
      const byType = f.type !== null ? sql`AND type = ${f.type}` : sql``
      const since = f.sinceMs !== null ? sql`AND created_ms >= ${f.sinceMs}` : sql``
      const desc = f.order === 'desc'
      const after =
        f.after === null
          ? sql``
          : desc
            ? sql`AND (created_ms, id COLLATE "C") < (${f.after.createdMs}, ${f.after.id})`
            : sql`AND (created_ms, id COLLATE "C") > (${f.after.createdMs}, ${f.after.id})`
      const order = desc ? sql`ORDER BY created_ms DESC, id COLLATE "C" DESC` : sql`ORDER BY created_ms, id COLLATE "C"`
      return allRows(
        await sql`SELECT id, created_ms, body FROM webhook_events WHERE site_id = ${siteId} ${byType} ${since} ${after}
                  ${order} LIMIT ${sqliteLimit(f.limit)}`,
        feedRow,
      )
    },
    getSiteEvent: async (siteId, id) =>
      firstOrNull(await sql`SELECT id, created_ms, body FROM webhook_events WHERE site_id = ${siteId} AND id = ${id}`, feedRow),
    eventsOfVisitor: async (siteId, visitorKey) =>
      allRows(
        await sql`SELECT id, type, body FROM webhook_events WHERE site_id = ${siteId} AND visitor_key = ${visitorKey} ORDER BY created_ms, id COLLATE "C"`,
        visitorEvent,
      ),
    rewriteErasedEvent: async (siteId, id, body) => {
      await sql`UPDATE webhook_events SET body = ${body}, visitor_key = NULL WHERE site_id = ${siteId} AND id = ${id}`
    },
    // A retry (requeue) of an old delivery may commit between the choice and the delete: the chosen
    // rows are locked first (waiting for such a retry to finish) and "finished" is checked again
    // by the delete, a statement that sees that retry, which keeps its delivery.
    pruneFinishedDeliveries: async (cutoffMs, limit) =>
      atomically(sql, async (tx) => {
        const seqs = (
          await tx`SELECT seq FROM webhook_deliveries WHERE created_ms < ${cutoffMs} AND next_attempt_ms IS NULL AND lease_until_ms IS NULL
                   ORDER BY created_ms, seq LIMIT ${sqliteLimit(limit)}`
        ).map((r: { seq: string | number }) => Number(r.seq))
        if (seqs.length === 0) return 0
        await tx`SELECT seq FROM webhook_deliveries WHERE seq = ANY(${seqs}::bigint[]) ORDER BY seq FOR UPDATE`
        const deleted = await tx`DELETE FROM webhook_deliveries WHERE seq = ANY(${seqs}::bigint[]) AND next_attempt_ms IS NULL AND lease_until_ms IS NULL`
        return deleted.count as number
      }),
    // No delivery is ever added to an existing event (deliveries are written with their event), so
    // an event found without deliveries stays without; the delete checks again all the same.
    pruneEvents: async (cutoffMs, after, limit): Promise<EventPruneBatch> => {
      const from = after === null ? sql`` : sql`AND (e.created_ms, e.id COLLATE "C") > (${after.createdMs}, ${after.id})`
      const rows = allRows(
        await sql`SELECT e.id, e.created_ms, EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) AS kept
                  FROM webhook_events e WHERE e.created_ms < ${cutoffMs} ${from}
                  ORDER BY e.created_ms, e.id COLLATE "C" LIMIT ${sqliteLimit(limit)}`,
        oldEvent,
      )
      const gone = rows.filter((r) => !r.kept).map((r) => r.id)
      const deleted = gone.length
        ? ((
            await sql`DELETE FROM webhook_events e WHERE e.id = ANY(${gone}::text[])
                      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)`
          ).count as number)
        : 0
      const last = rows.at(-1)
      return { examined: rows.length, deleted, last: last ? { createdMs: last.created_ms, id: last.id } : null }
    },
  }
}
