/**
 * Authentication, scopes, rate limits and request counting, as one `derive` that runs before
 * body validation (so a missing token answers 401, not 400). Everything here is in memory:
 * the principal cache, the buckets, the counters; with MLC_REDIS_URL the buckets are in Redis
 * (shared by every instance) and a check is a promise: the in-process path has none.
 * Conditional reads (ETag, If-None-Match, 304) run here too: a 304 gives its request back.
 */
import { Elysia } from 'elysia'
import type { Clock } from '../clock'
import { ForbiddenError, RateLimitedError, UnauthorizedError } from '../errors'
import type { UsageCounter } from '../modules/tokens/usage-counter'
import type { TakeResult } from '../ratelimit/token-bucket'
import type { RateLimiter } from '../shared/rate-limit'
import type { Authenticator, Principal } from './authenticator'
import { rejectMalformed } from './body'
import { ifNoneMatchHits, notModified, type ResponseSet, taggedBody } from './conditional-get'
import type { Idempotency } from './idempotency'

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export interface AuthDeps {
  authenticator: Authenticator
  /** Token buckets; API limits and failed auth fall back to per-instance buckets while Redis is unavailable. */
  buckets: RateLimiter
  usage: UsageCounter
  clock: Clock
  authFailuresPerMinute: number
  /** The client address of a request (set by the server front). */
  clientIp: (request: Request) => string
  /** Records the principal of a request for the access log. */
  onPrincipal?: (request: Request, principal: Principal) => void
  /** Idempotency-Key claims, checked once the caller is admitted (absent: the header is ignored). */
  idempotency?: Idempotency
}

/** Routes a publishable key (`pk_...`) may call: "METHOD /route/pattern". */
export const PUBLISHABLE_ROUTES = new Set<string>(['POST /v1/visitors', 'POST /v1/track'])

/** The raw credential of a request: bearer header first, then `?token=`. */
export function credentialOf(request: Request, queryToken: unknown): string | null {
  const header = request.headers.get('authorization')
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
    return m?.[1] ?? ''
  }
  return typeof queryToken === 'string' && queryToken ? queryToken : null
}

/** The rate-limit bucket of a principal: its token's, or for a publishable key, the site's per client address. */
export function rateKeyOf(principal: Principal, ip: string): string {
  return principal.tokenId !== null ? `token:${principal.tokenId}` : `pk:${principal.siteId}:${ip}`
}

/** Writes the rate-limit headers (GitHub style and IETF draft-11) for one take. */
export function setRateLimitHeaders(headers: Record<string, unknown>, r: TakeResult, nowMs: number): void {
  headers['x-ratelimit-limit'] = String(r.limit)
  headers['x-ratelimit-remaining'] = String(r.remaining)
  headers['x-ratelimit-reset'] = String(Math.ceil(nowMs / 1000) + r.resetSeconds)
  headers['ratelimit-policy'] = `"plan";q=${r.limit};w=60`
  headers.ratelimit = `"plan";r=${r.remaining};t=${r.resetSeconds}`
}

/**
 * The principal of a raw credential, or null (counted as a failure in the bucket `failKey`, which
 * the caller has peeked) when it is unknown or revoked. Synchronous when it is remembered (nearly
 * every request); a promise when the auth cache's epoch must be read or the credential looked up.
 *
 * A failure is read first and counted after, which is safe only while nothing awaits between the
 * two. A lookup awaits, so it is counted as a failure before and given back when the credential
 * is known (as the sign-in form does): parallel guesses cannot all pass the peek. Requests with a
 * credential whose lookup is already in flight join it and count only their own failure.
 */
export function identify(
  deps: Pick<AuthDeps, 'authenticator' | 'buckets'>,
  raw: string | null,
  failKey: string,
  maxFailures: number,
): Principal | null | Promise<Principal | null> {
  if (!raw) {
    // Counted, not waited for: the answer is 401 whatever the bucket says (a shared take never rejects).
    void deps.buckets.take(failKey, maxFailures)
    return null
  }
  const checking = deps.authenticator.checkEpoch()
  if (checking !== undefined) return checking.then(() => identifyChecked(deps, raw, failKey, maxFailures))
  return identifyChecked(deps, raw, failKey, maxFailures)
}

/**
 * Lookups waiting for their failure to be counted in a shared bucket (a Redis round trip before
 * the authenticator's lookup starts), per authenticator: parallel requests with the same
 * credential join them as they join a lookup in flight, instead of each counting a failure.
 */
const countingLookups = new WeakMap<Authenticator, Map<string, Promise<Principal | null>>>()

function identifyChecked(
  deps: Pick<AuthDeps, 'authenticator' | 'buckets'>,
  raw: string,
  failKey: string,
  maxFailures: number,
): Principal | null | Promise<Principal | null> {
  const { authenticator, buckets } = deps
  const key = authenticator.keyOf(raw)
  const hit = authenticator.cached(key)
  if (hit) return hit
  const joined = authenticator.inFlight(key) ?? countingLookups.get(authenticator)?.get(key)
  if (joined !== undefined) {
    return joined.then((principal) => {
      if (!principal) void buckets.take(failKey, maxFailures)
      return principal
    })
  }
  // Taking also checks the limit again: after an epoch read the caller's peek is an await old.
  const taken = buckets.take(failKey, maxFailures)
  if (taken instanceof Promise) {
    let counting = countingLookups.get(authenticator)
    if (!counting) {
      counting = new Map()
      countingLookups.set(authenticator, counting)
    }
    const pending = taken.then((t) => lookUp(deps, raw, key, failKey, maxFailures, t))
    counting.set(key, pending)
    const done = () => {
      if (counting.get(key) === pending) counting.delete(key)
    }
    pending.then(done, done)
    return pending
  }
  return lookUp(deps, raw, key, failKey, maxFailures, taken)
}

/** Looks a credential up once its failure is counted (`taken`), giving the failure back when it is known. */
function lookUp(
  deps: Pick<AuthDeps, 'authenticator' | 'buckets'>,
  raw: string,
  key: string,
  failKey: string,
  maxFailures: number,
  taken: TakeResult,
): Promise<Principal | null> {
  const { authenticator, buckets } = deps
  if (!taken.allowed) throw new RateLimitedError('Too many failed authentication attempts from this address.', taken.retryAfterSeconds)
  return authenticator.lookup(raw, key).then(
    (principal) => {
      if (principal) void buckets.refund(failKey, maxFailures)
      return principal
    },
    (err) => {
      void buckets.refund(failKey, maxFailures)
      throw err
    },
  )
}

/**
 * Authenticates a request and applies limits; returns the principal or throws the envelope error.
 * Synchronous on a remembered credential (nearly every request), else a promise.
 */
export function authenticateRequest(
  deps: AuthDeps,
  request: Request,
  queryToken: unknown,
  route: string,
  headers: Record<string, unknown>,
): Principal | Promise<Principal> {
  const ip = deps.clientIp(request)
  const raw = credentialOf(request, queryToken)
  const failKey = `authfail:${ip}`
  if (deps.buckets.shared) {
    const remembered = authenticateRemembered(deps, request, raw, failKey, route, headers, ip)
    if (remembered !== null) return remembered
  }
  const failState = deps.buckets.peek(failKey, deps.authFailuresPerMinute)
  if (failState instanceof Promise) return failState.then((s) => afterPeek(deps, request, raw, failKey, s, route, headers, ip))
  return afterPeek(deps, request, raw, failKey, failState, route, headers, ip)
}

/**
 * With shared buckets, a remembered credential (nearly every request) in one round trip: the
 * address's failed-auth bucket is peeked and the principal's taken in one step, in the order the
 * general path checks them. Null when the credential is not remembered or the auth cache is due
 * a check: the general path answers.
 */
function authenticateRemembered(
  deps: AuthDeps,
  request: Request,
  raw: string | null,
  failKey: string,
  route: string,
  headers: Record<string, unknown>,
  ip: string,
): Promise<Principal> | null {
  if (!raw || deps.authenticator.checkEpoch() !== undefined) return null
  const principal = deps.authenticator.cached(deps.authenticator.keyOf(raw))
  if (!principal) return null
  const rateKey = rateKeyOf(principal, ip)
  const steps = [
    { key: failKey, capacity: deps.authFailuresPerMinute, op: 'peek' as const },
    { key: rateKey, capacity: principal.rateLimit, op: 'take' as const },
  ]
  return Promise.resolve(deps.buckets.takeInOrder(steps)).then(([failState, taken]) => {
    if (!failState?.allowed || !taken) {
      throw new RateLimitedError('Too many failed authentication attempts from this address.', failState?.retryAfterSeconds ?? 1)
    }
    return admitTaken(deps, request, principal, route, headers, taken)
  })
}

/** Authentication once the failed-auth bucket of the address is read (`failState`). */
function afterPeek(
  deps: AuthDeps,
  request: Request,
  raw: string | null,
  failKey: string,
  failState: TakeResult,
  route: string,
  headers: Record<string, unknown>,
  ip: string,
): Principal | Promise<Principal> {
  if (!failState.allowed) {
    throw new RateLimitedError('Too many failed authentication attempts from this address.', failState.retryAfterSeconds)
  }
  const found = identify(deps, raw, failKey, deps.authFailuresPerMinute)
  if (found instanceof Promise) return found.then((principal) => admit(deps, request, raw, principal, route, headers, ip))
  return admit(deps, request, raw, found, route, headers, ip)
}

/** The rest of authentication once the principal is known (a failure is counted already). */
function admit(
  deps: AuthDeps,
  request: Request,
  raw: string | null,
  principal: Principal | null,
  route: string,
  headers: Record<string, unknown>,
  ip: string,
): Principal | Promise<Principal> {
  if (!principal) throw new UnauthorizedError(raw === null ? undefined : 'The API token is unknown or revoked.')
  const rateKey = rateKeyOf(principal, ip)
  const taken = deps.buckets.take(rateKey, principal.rateLimit)
  if (taken instanceof Promise) return taken.then((t) => admitTaken(deps, request, principal, route, headers, t))
  return admitTaken(deps, request, principal, route, headers, taken)
}

/** The rest of admission once the principal's bucket answered (`taken`). */
function admitTaken(deps: AuthDeps, request: Request, principal: Principal, route: string, headers: Record<string, unknown>, taken: TakeResult): Principal {
  const now = deps.clock.now()
  setRateLimitHeaders(headers, taken, now)
  if (!taken.allowed) {
    throw new RateLimitedError(`Rate limit of ${taken.limit} requests per minute exceeded.`, taken.retryAfterSeconds)
  }
  if (principal.tokenId !== null) deps.usage.count(principal.tokenId)
  deps.onPrincipal?.(request, principal)
  const method = request.method
  if (principal.kind === 'publishable') {
    // Elysia names a prefix's root route with a trailing slash (`/v1/track/`); the table has none.
    if (!PUBLISHABLE_ROUTES.has(`${method} ${route.length > 1 ? route.replace(/\/$/, '') : route}`)) {
      throw new ForbiddenError('A publishable key (pk_...) can only identify visitors and track events; use an API token.')
    }
  } else if (WRITE_METHODS.has(method) && !principal.canWrite) {
    throw new ForbiddenError(`This token has scope "read"; ${method} needs "write".`)
  }
  return principal
}

/**
 * The answer to a GET or HEAD once its handler returned `value` (see src/http/conditional-get.ts):
 * a 200 envelope is serialised here, with its ETag; when If-None-Match names that tag, a 304.
 * A 304 costs no request (GitHub's convention for conditional requests): the one taken at
 * admission goes back to the bucket, and the headers show the bucket after it. It still counts
 * as a request of the token (usage, last used). Undefined: Elysia answers as usual.
 */
export function conditionalAnswer(
  deps: Pick<AuthDeps, 'buckets' | 'clock' | 'clientIp'>,
  request: Request,
  set: ResponseSet,
  value: unknown,
  principal: Principal,
): string | null | Promise<null> | undefined {
  const method = request.method
  if (method !== 'GET' && method !== 'HEAD') return undefined
  const body = taggedBody(set, value)
  if (body === undefined) return undefined
  const field = request.headers.get('if-none-match')
  if (field === null || !ifNoneMatchHits(field, set.headers.etag as string)) return body
  const after = deps.buckets.refund(rateKeyOf(principal, deps.clientIp(request)), principal.rateLimit)
  const answer = (r: TakeResult) => {
    setRateLimitHeaders(set.headers, r, deps.clock.now())
    return notModified(set)
  }
  return after instanceof Promise ? after.then(answer) : answer(after)
}

/** The auth plugin: use it in every module whose routes need a token. */
export function createAuthPlugin(deps: AuthDeps) {
  return new Elysia({ name: 'mlc-auth' })
    .derive({ as: 'scoped' }, async ({ request, query, set, body, route }) => {
      const found = authenticateRequest(deps, request, (query as Record<string, unknown>).token, route, set.headers)
      // A cached credential answers without a promise: no extra turn for it.
      const principal = found instanceof Promise ? await found : found
      // Authenticated and counted first, then the key (a replay costs a request), then validation.
      const claiming = deps.idempotency?.check(request, set.headers, principal.siteId, principal.kind)
      if (claiming !== undefined) await claiming
      rejectMalformed(body)
      return { principal }
    })
    .mapResponse(
      { as: 'scoped' },
      // Typed as answering a Response, but Elysia maps whatever it answers as it maps a handler's
      // value (a string: the body with `set`'s headers; null: no body), which spares every GET a
      // second Response and a copy of its headers.
      ({ request, set, responseValue, principal }) => conditionalAnswer(deps, request, set, responseValue, principal) as unknown as Response | undefined,
    )
}
export type AuthPlugin = ReturnType<typeof createAuthPlugin>
