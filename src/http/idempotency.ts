/**
 * Idempotency-Key on writes, with Stripe's semantics. A POST, PATCH or DELETE carrying the header
 * claims the key (per site and credential scope) with a row before it runs; its response (any
 * status but 5xx and 429) is stored with the key for MLC_IDEMPOTENCY_TTL. The same key again with
 * the same method, path and body answers the stored response (`Idempotent-Replayed: true`) and runs
 * nothing; with another method, path or body it answers 422 idempotency_mismatch; while the first
 * request still runs, 409 with Retry-After: 1.
 *
 * Where it sits: authentication and the rate-limit take come first (a replay costs a request like
 * any other), then `check` (called by the auth plugin and the widget guard), then validation and
 * the handler. The front (src/app.ts) passes every response through `finish`, which stores the
 * outcome of a request holding a claim (validation errors included) before it leaves, or drops
 * the claim when the outcome must not be stored. A request without the header costs one header
 * lookup here (one more in the body parser, for writes) and one WeakMap lookup in `finish`.
 *
 * The claim is a row with a unique key, so it holds across instances on one PostgreSQL database
 * and across restarts. A claim older than CLAIM_LEASE_MS is taken to be abandoned by a crash and
 * may be claimed again: a crash after the handler committed and before the response was stored
 * lets one retry run the request again.
 */
import type { Clock } from '../clock'
import type { IdempotencyClaim, IdempotencyRow } from '../db/rows'
import type { Store } from '../db/store'
import { BadRequestError, IdempotencyInFlightError, IdempotencyMismatchError } from '../errors'
import type { Logger } from '../log'
import { rawBodyOf } from './body'
import { IDEMPOTENCY_KEY_HEADER, REQUEST_ID_HEADER } from './headers'
import { pathAndQuery } from './url-path'

/** Methods whose requests honour the header (GET and HEAD are idempotent by definition; PUT is not served). */
const IDEMPOTENT_METHODS = new Set(['POST', 'PATCH', 'DELETE'])

/**
 * How long a claim without a response may be held before another request may take it (a crash
 * left it). Longer than any request runs: statements time out after 10 s by default
 * (MLC_DATABASE_STATEMENT_TIMEOUT_MS), the AI provider after 15 s (MLC_AI_TIMEOUT_MS).
 */
export const CLAIM_LEASE_MS = 60_000

/** 1-255 printable ASCII characters (space to tilde), as at Stripe. */
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/

/** How often a claim is attempted when other requests keep changing the row between our reads. */
const CLAIM_TRIES = 3

/** A claim held by a running request. */
interface Held {
  siteId: number
  scope: string
  key: string
  requestId: string
}

/**
 * Thrown by `check` when the key's stored response is to be answered again; the platform plugin's
 * error handler turns it into that response (src/http/platform.ts), with the request's headers.
 */
export class IdempotentReplay extends Error {
  /** The stored status: Elysia gives a thrown error's `status` to the response its error handler answers. */
  readonly status: number

  constructor(readonly row: IdempotencyRow) {
    super('idempotent replay')
    this.status = row.response_status ?? 200
  }
}

/**
 * The stored response of `row` answered to a new request: the same status and body, except that
 * the body's `request_id` is the new request's (it equals X-MLC-Request-Id on every response),
 * plus `Idempotent-Replayed: true` and `Original-Request` naming the first request.
 */
export function replayResponse(row: IdempotencyRow, headers: Record<string, unknown>, requestId: string): Response {
  const h = new Headers()
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) h.set(k, String(v))
  h.set('idempotent-replayed', 'true')
  h.set('original-request', row.request_id)
  if (row.response_type) h.set('content-type', row.response_type)
  // Request ids are random and unique: the first request's id appears in its body only as its request_id.
  const body = (row.response_body ?? '').replaceAll(`"request_id":"${row.request_id}"`, `"request_id":"${requestId}"`)
  return new Response(body, { status: row.response_status ?? 200, headers: h })
}

/** SHA-256 (hex) of what makes two requests the same: method, path with query, `extra` and the raw body. */
export function fingerprint(method: string, target: string, extra: string, body: string): string {
  return new Bun.CryptoHasher('sha256').update(`${method}\n${target}\n${extra}\n`).update(body).digest('hex')
}

/** The fingerprint of a request whose body `parseBody` read. */
function fingerprintOf(request: Request, extra: string): string {
  return fingerprint(request.method, pathAndQuery(request.url), extra, rawBodyOf(request))
}

export interface IdempotencyDeps {
  store: Store
  clock: Clock
  logger: Logger
  /** MLC_IDEMPOTENCY_TTL: seconds a key and its response are kept. */
  ttlSeconds: number
}

/** Claims, replays and records Idempotency-Keys for one app. */
export class Idempotency {
  private readonly claims = new WeakMap<Request, Held>()
  private readonly ttlMs: number

  constructor(private readonly deps: IdempotencyDeps) {
    this.ttlMs = deps.ttlSeconds * 1000
  }

  /**
   * For a write with an Idempotency-Key: claims the key for this request, or throws what to answer
   * instead (400 for a malformed key, the replay, 422, 409). Undefined, at once, when the request
   * has no key or is not a write. `scope` separates credentials of one site (API tokens,
   * publishable keys, each widget visitor); `extra` is hashed with the request (what identifies
   * the caller beyond the scope, e.g. an identity token sent as a header). Either may be a
   * function, called only when the request has a key: requests without one pay nothing for them.
   */
  check(
    request: Request,
    headers: Record<string, unknown>,
    siteId: number,
    scope: string | (() => string),
    extra: string | (() => string) = '',
  ): Promise<void> | undefined {
    if (!IDEMPOTENT_METHODS.has(request.method)) return undefined
    const key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if (key === null) return undefined
    const requestId = headers[REQUEST_ID_HEADER] as string
    return this.claim(request, requestId, siteId, typeof scope === 'string' ? scope : scope(), key, typeof extra === 'string' ? extra : extra())
  }

  private async claim(request: Request, requestId: string, siteId: number, scope: string, key: string, extra: string): Promise<void> {
    if (!KEY_PATTERN.test(key)) throw new BadRequestError('Idempotency-Key must be 1-255 printable ASCII characters.', 'Idempotency-Key')
    const repo = this.deps.store.idempotency
    const nowMs = this.deps.clock.now()
    const claim: IdempotencyClaim = { siteId, scope, key, fingerprint: fingerprintOf(request, extra), requestId, nowMs }
    const staleBeforeMs = nowMs - CLAIM_LEASE_MS
    const expiredBeforeMs = nowMs - this.ttlMs
    for (let tries = 0; tries < CLAIM_TRIES; tries++) {
      if (await repo.claim(claim)) return this.hold(request, claim)
      const row = await repo.get(siteId, scope, key)
      // Released (its request failed) or pruned between the two: claim again.
      if (row === null) continue
      // Past the TTL a key is free again, whatever it was used for.
      if (row.created_ms < expiredBeforeMs) {
        if (await repo.takeOver(claim, row.request_id, staleBeforeMs, expiredBeforeMs)) return this.hold(request, claim)
        continue
      }
      if (row.fingerprint !== claim.fingerprint) throw new IdempotencyMismatchError()
      if (row.response_status !== null) throw new IdempotentReplay(row)
      if (row.created_ms >= staleBeforeMs) throw new IdempotencyInFlightError()
      // Abandoned by a crash: this retry runs the request.
      if (await repo.takeOver(claim, row.request_id, staleBeforeMs, expiredBeforeMs)) return this.hold(request, claim)
    }
    // Other requests kept changing the row: one of them is at work on it.
    throw new IdempotencyInFlightError()
  }

  private hold(request: Request, claim: IdempotencyClaim): void {
    this.claims.set(request, { siteId: claim.siteId, scope: claim.scope, key: claim.key, requestId: claim.requestId })
  }

  /**
   * The response to send for `request`. When the request holds a claim, its response is stored
   * with the key first (a 5xx or 429 is not: the claim is dropped, so a retry runs again). A store
   * that fails is logged and the response still sent: the claim is dropped if it can be, else it
   * lapses after the lease.
   */
  finish(request: Request, response: Response): Response | Promise<Response> {
    const held = this.claims.get(request)
    if (held === undefined) return response
    this.claims.delete(request)
    return this.record(held, response)
  }

  private async record(held: Held, response: Response): Promise<Response> {
    const status = response.status
    if (status >= 500 || status === 429) {
      await this.release(held)
      return response
    }
    const body = await response.text()
    try {
      const stored = await this.deps.store.idempotency.complete(held.siteId, held.scope, held.key, held.requestId, {
        status,
        type: response.headers.get('content-type'),
        body,
      })
      if (!stored) this.deps.logger.warn('idempotency key taken over before its response was stored', { request_id: held.requestId })
    } catch (err) {
      this.deps.logger.error('idempotency: the response could not be stored; a retry will run the request again', {
        request_id: held.requestId,
        error: String(err),
      })
      await this.release(held)
    }
    return new Response(body, { status, statusText: response.statusText, headers: response.headers })
  }

  /** Drops the claim of a request that ended without a response (an exception escaped the app). */
  async abandon(request: Request): Promise<void> {
    const held = this.claims.get(request)
    if (held === undefined) return
    this.claims.delete(request)
    await this.release(held)
  }

  private async release(held: Held): Promise<void> {
    try {
      await this.deps.store.idempotency.release(held.siteId, held.scope, held.key, held.requestId)
    } catch (err) {
      // Storage is failing: the claim lapses after the lease, then a retry runs.
      this.deps.logger.error('idempotency: a claim could not be dropped; it lapses after the lease', { request_id: held.requestId, error: String(err) })
    }
  }
}
