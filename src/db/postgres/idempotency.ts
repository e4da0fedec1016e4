/** Idempotency keys on PostgreSQL: the same rows and answers as the SQLite repo (../sqlite/idempotency.ts). */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { IdempotencyRepo, IdempotencyRow } from '../rows'
import { bigintColumns, firstOrNull } from './rows'

const row = bigintColumns<IdempotencyRow>('site_id', 'created_ms')

/** Statements over `idempotency_keys`. */
export function createPostgresIdempotencyRepo(sql: SQL): AsyncRepo<IdempotencyRepo> {
  return {
    // The primary key makes the insert the claim: of two instances racing, one inserts, the other sees the row.
    claim: async (c) =>
      (
        await sql`INSERT INTO idempotency_keys (site_id, scope, key, fingerprint, request_id, created_ms)
                  VALUES (${c.siteId}, ${c.scope}, ${c.key}, ${c.fingerprint}, ${c.requestId}, ${c.nowMs})
                  ON CONFLICT (site_id, scope, key) DO NOTHING`
      ).count > 0,
    get: async (siteId, scope, key) =>
      firstOrNull(await sql`SELECT * FROM idempotency_keys WHERE site_id = ${siteId} AND scope = ${scope} AND key = ${key}`, row),
    takeOver: async (c, seenRequestId, staleBeforeMs, expiredBeforeMs) =>
      (
        await sql`UPDATE idempotency_keys SET fingerprint = ${c.fingerprint}, request_id = ${c.requestId}, created_ms = ${c.nowMs},
                    response_status = NULL, response_type = NULL, response_body = NULL
                  WHERE site_id = ${c.siteId} AND scope = ${c.scope} AND key = ${c.key} AND request_id = ${seenRequestId}
                    AND ((response_status IS NULL AND created_ms < ${staleBeforeMs}) OR created_ms < ${expiredBeforeMs})`
      ).count > 0,
    complete: async (siteId, scope, key, requestId, response) =>
      (
        await sql`UPDATE idempotency_keys SET response_status = ${response.status}, response_type = ${response.type}, response_body = ${response.body}
                  WHERE site_id = ${siteId} AND scope = ${scope} AND key = ${key} AND request_id = ${requestId} AND response_status IS NULL`
      ).count > 0,
    release: async (siteId, scope, key, requestId) =>
      (
        await sql`DELETE FROM idempotency_keys
                  WHERE site_id = ${siteId} AND scope = ${scope} AND key = ${key} AND request_id = ${requestId} AND response_status IS NULL`
      ).count > 0,
    forgetMentioning: async (siteId, text) => (await sql`DELETE FROM idempotency_keys WHERE site_id = ${siteId} AND strpos(response_body, ${text}) > 0`).count,
    prune: async (beforeMs, limit) =>
      (
        await sql`DELETE FROM idempotency_keys WHERE (site_id, scope, key) IN
                    (SELECT site_id, scope, key FROM idempotency_keys WHERE created_ms < ${beforeMs} LIMIT ${limit})`
      ).count,
  }
}
