/**
 * Who is calling a widget endpoint: the site (by its publishable key, never an API token) and the
 * visitor (anonymous id or visitor key). Runs before body validation, like the API's auth, so a
 * bad key answers 401 first; then the per-IP and per-visitor buckets. The WebSocket upgrade uses
 * the same function.
 */

import type { Clock } from '../../clock'
import type { Config } from '../../config'
import type { SiteRow } from '../../db/rows'
import type { Store } from '../../db/store'
import { RateLimitedError, UnauthorizedError } from '../../errors'
import { setRateLimitHeaders } from '../../http/auth'
import { rejectMalformed } from '../../http/body'
import type { TakeResult } from '../../ratelimit/token-bucket'
import type { LimitStep, RateLimiter } from '../../shared/rate-limit'
import { SITE_KEY_HEADER } from './model'

export interface WidgetGuardDeps {
  store: Store
  clock: Clock
  config: Config
  /** Token buckets; widget limits and failed auth fall back to per-instance buckets while Redis is unavailable. */
  buckets: RateLimiter
  clientIp: (request: Request) => string
}

/** The authenticated widget caller. */
export interface WidgetCaller {
  site: SiteRow
  anonId: string | null
  visitorKey: string | null
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null
}

/** Lookups of publishable keys in flight, per store: parallel widget requests for one site share one. */
const lookups = new WeakMap<Store, Map<string, Promise<SiteRow | null>>>()

/**
 * The site of a publishable key, or a 401 (counted as a failure in `failKey`, which the caller
 * has peeked). A failure read first and counted after is safe only while nothing awaits between
 * the two; the lookup awaits, so it is counted before and given back when the key is known:
 * parallel guesses cannot all pass the peek. Requests for a key whose lookup is in flight join it
 * and count only their own failure, so a burst of one site's widget calls is not counted at all.
 */
async function siteOfKey(deps: WidgetGuardDeps, key: string, failKey: string): Promise<SiteRow> {
  const max = deps.config.authFailuresPerMinute
  const unknown = () => new UnauthorizedError('The site key is unknown: widget endpoints take the publishable key (pk_...) from `mlc site list`.')
  if (!key.startsWith('pk_')) {
    void deps.buckets.take(failKey, max)
    throw unknown()
  }
  let inFlight = lookups.get(deps.store)
  if (!inFlight) {
    inFlight = new Map()
    lookups.set(deps.store, inFlight)
  }
  const joined = inFlight.get(key)
  if (joined !== undefined) {
    const site = await joined
    if (!site) {
      void deps.buckets.take(failKey, max)
      throw unknown()
    }
    return site
  }
  // Not waited for in Redis either: this instance's later checks reach Redis after it, on the same connection.
  void deps.buckets.take(failKey, max)
  const pending = deps.store.sites.byPublishableKey(key)
  inFlight.set(key, pending)
  let site: SiteRow | null
  try {
    site = await pending
  } catch (err) {
    void deps.buckets.refund(failKey, max)
    throw err
  } finally {
    if (inFlight.get(key) === pending) inFlight.delete(key)
  }
  if (!site) throw unknown()
  void deps.buckets.refund(failKey, max)
  return site
}

/**
 * The Idempotency-Key scope of a widget caller: the visitor it names (anonymous id or visitor
 * key), hashed so the column stays short whatever the body held. One visitor's keys never meet
 * another's, so nobody replays another visitor's response.
 */
export function idempotencyScopeOf(caller: WidgetCaller): string {
  const who = caller.anonId !== null ? `a:${caller.anonId}` : caller.visitorKey !== null ? `k:${caller.visitorKey}` : '-'
  return `widget:${new Bun.CryptoHasher('sha256').update(who).digest('hex')}`
}

/** Authenticates and rate-limits a widget request; `fields` are its body and query together. */
export async function authenticateWidget(
  deps: WidgetGuardDeps,
  request: Request,
  fields: { body?: unknown; query?: unknown },
  headers: Record<string, unknown>,
): Promise<WidgetCaller> {
  const ip = deps.clientIp(request)
  const failKey = `authfail:${ip}`
  const peeked = deps.buckets.peek(failKey, deps.config.authFailuresPerMinute)
  const failState = peeked instanceof Promise ? await peeked : peeked
  if (!failState.allowed) throw new RateLimitedError('Too many failed authentication attempts from this address.', failState.retryAfterSeconds)
  const body = (fields.body && typeof fields.body === 'object' ? fields.body : {}) as Record<string, unknown>
  const query = (fields.query && typeof fields.query === 'object' ? fields.query : {}) as Record<string, unknown>
  const key = str(request.headers.get(SITE_KEY_HEADER)) ?? str(body.site_key) ?? str(query.site_key)
  if (!key) throw new UnauthorizedError('The site publishable key is required: send site_key (pk_...) or the X-MLC-Site-Key header.')
  const site = await siteOfKey(deps, key, failKey)
  rejectMalformed(fields.body)
  const anonId = str(body.anon_id) ?? str(body.anonymous_id) ?? str(query.anon_id) ?? str(query.anonymous_id)
  const visitorKey = str(body.visitor_key) ?? str(query.visitor_key)
  const now = deps.clock.now()
  const who = anonId !== null ? `a:${anonId}` : visitorKey !== null ? `k:${visitorKey}` : null
  let byIp: TakeResult
  let byVisitor: TakeResult | null = null
  if (deps.buckets.shared) {
    // Shared buckets: the address's and the visitor's in one round trip, in the same order.
    const steps: LimitStep[] = [{ key: `widget:ip:${ip}`, capacity: deps.config.widgetRatePerIp, op: 'take' }]
    if (who) steps.push({ key: `widget:v:${site.id}:${who}`, capacity: deps.config.widgetRatePerVisitor, op: 'take' })
    const taken = await deps.buckets.takeInOrder(steps)
    byIp = taken[0] as TakeResult
    byVisitor = taken[1] ?? null
  } else {
    byIp = deps.buckets.take(`widget:ip:${ip}`, deps.config.widgetRatePerIp) as TakeResult
    if (byIp.allowed && who) byVisitor = deps.buckets.take(`widget:v:${site.id}:${who}`, deps.config.widgetRatePerVisitor) as TakeResult
  }
  if (!byIp.allowed) {
    setRateLimitHeaders(headers, byIp, now)
    throw new RateLimitedError(`Rate limit of ${byIp.limit} widget requests per minute from this address exceeded.`, byIp.retryAfterSeconds)
  }
  const shown = byVisitor ?? byIp
  setRateLimitHeaders(headers, shown, now)
  if (byVisitor && !byVisitor.allowed) {
    throw new RateLimitedError(`Rate limit of ${byVisitor.limit} widget requests per minute for this visitor exceeded.`, byVisitor.retryAfterSeconds)
  }
  return { site, anonId, visitorKey }
}
