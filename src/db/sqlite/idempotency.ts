/**
 * Idempotency keys and their stored responses (src/http/idempotency.ts decides; this stores). A
 * row with `response_status` NULL is a claim in flight. Every write names the `request_id` it
 * expects, so a request whose abandoned claim was taken over can neither complete nor delete the
 * new holder's row.
 */
import type { Database } from 'bun:sqlite'

export interface IdempotencyRow {
  site_id: number
  scope: string
  key: string
  /** SHA-256 (hex) of the method, path with query and raw body of the first request. */
  fingerprint: string
  /** The request id of the request that claimed the key (its response's id). */
  request_id: string
  created_ms: number
  /** Null while the first request is running. */
  response_status: number | null
  response_type: string | null
  response_body: string | null
}

/** A new claim: who (site, scope, key), what (fingerprint) and by which request when. */
export interface IdempotencyClaim {
  siteId: number
  scope: string
  key: string
  fingerprint: string
  requestId: string
  nowMs: number
}

/** A stored response. */
export interface IdempotencyResponse {
  status: number
  type: string | null
  body: string
}

/** Prepared statements over `idempotency_keys`. */
export function createIdempotencyRepo(db: Database) {
  const insert = db.query<never, [number, string, string, string, string, number]>(
    `INSERT INTO idempotency_keys (site_id, scope, key, fingerprint, request_id, created_ms) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (site_id, scope, key) DO NOTHING`,
  )
  const get = db.query<IdempotencyRow, [number, string, string]>('SELECT * FROM idempotency_keys WHERE site_id = ? AND scope = ? AND key = ?')
  const takeOver = db.query<never, [string, string, number, number, string, string, string, number, number]>(
    `UPDATE idempotency_keys SET fingerprint = ?, request_id = ?, created_ms = ?, response_status = NULL, response_type = NULL, response_body = NULL
     WHERE site_id = ? AND scope = ? AND key = ? AND request_id = ?
       AND ((response_status IS NULL AND created_ms < ?) OR created_ms < ?)`,
  )
  const complete = db.query<never, [number, string | null, string, number, string, string, string]>(
    `UPDATE idempotency_keys SET response_status = ?, response_type = ?, response_body = ?
     WHERE site_id = ? AND scope = ? AND key = ? AND request_id = ? AND response_status IS NULL`,
  )
  const release = db.query<never, [number, string, string, string]>(
    'DELETE FROM idempotency_keys WHERE site_id = ? AND scope = ? AND key = ? AND request_id = ? AND response_status IS NULL',
  )
  const forget = db.query<never, [number, string]>('DELETE FROM idempotency_keys WHERE site_id = ? AND instr(response_body, ?) > 0')
  const prune = db.query<never, [number, number]>(
    `DELETE FROM idempotency_keys WHERE (site_id, scope, key) IN
       (SELECT site_id, scope, key FROM idempotency_keys WHERE created_ms < ? LIMIT ?)`,
  )
  return {
    /** Claims a key that has no row; false when a row exists (the caller reads it). */
    claim: (c: IdempotencyClaim) => insert.run(c.siteId, c.scope, c.key, c.fingerprint, c.requestId, c.nowMs).changes > 0,
    /** The key's row, or null. */
    get: (siteId: number, scope: string, key: string) => get.get(siteId, scope, key),
    /**
     * Claims a key whose row the caller read (held by `seenRequestId`) when that row is still an
     * abandoned claim (in flight since before `staleBeforeMs`) or has expired (created before
     * `expiredBeforeMs`); false when another request changed or took it meanwhile.
     */
    takeOver: (c: IdempotencyClaim, seenRequestId: string, staleBeforeMs: number, expiredBeforeMs: number) =>
      takeOver.run(c.fingerprint, c.requestId, c.nowMs, c.siteId, c.scope, c.key, seenRequestId, staleBeforeMs, expiredBeforeMs).changes > 0,
    /** Stores the response of the claim `requestId` holds; false when it holds none (taken over meanwhile). */
    complete: (siteId: number, scope: string, key: string, requestId: string, response: IdempotencyResponse) =>
      complete.run(response.status, response.type, response.body, siteId, scope, key, requestId).changes > 0,
    /** Deletes the claim `requestId` holds (its request failed in a way a retry should run again). */
    release: (siteId: number, scope: string, key: string, requestId: string) => release.run(siteId, scope, key, requestId).changes > 0,
    /** Deletes a site's stored responses whose body contains `text` (a visitor's erasure); answers how many. */
    forgetMentioning: (siteId: number, text: string) => forget.run(siteId, text).changes,
    /** Deletes up to `limit` keys first used before `beforeMs`; returns how many went. */
    prune: (beforeMs: number, limit: number) => prune.run(beforeMs, limit).changes,
  }
}
export type IdempotencyRepo = ReturnType<typeof createIdempotencyRepo>
