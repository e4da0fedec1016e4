/**
 * Authentication, scopes, rate limits and request counting, as one `derive` that runs before
 * body validation (so a missing token answers 401, not 400). Everything here is in memory:
 * the principal cache, the buckets, the counters.
 */
import { Elysia } from 'elysia'
import type { Clock } from '../clock'
import { ForbiddenError, RateLimitedError, UnauthorizedError } from '../errors'
import type { UsageCounter } from '../modules/tokens/usage-counter'
import type { TakeResult, TokenBuckets } from '../ratelimit/token-bucket'
import type { Authenticator, Principal } from './authenticator'
import { rejectMalformed } from './body'

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export interface AuthDeps {
  authenticator: Authenticator
  buckets: TokenBuckets
  usage: UsageCounter
  clock: Clock
  authFailuresPerMinute: number
  /** The client address of a request (set by the server front). */
  clientIp: (request: Request) => string
  /** Records the principal of a request for the access log. */
  onPrincipal?: (request: Request, principal: Principal) => void
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

/** Writes the rate-limit headers (GitHub style and IETF draft-11) for one take. */
export function setRateLimitHeaders(headers: Record<string, unknown>, r: TakeResult, nowMs: number): void {
  headers['x-ratelimit-limit'] = String(r.limit)
  headers['x-ratelimit-remaining'] = String(r.remaining)
  headers['x-ratelimit-reset'] = String(Math.ceil(nowMs / 1000) + r.resetSeconds)
  headers['ratelimit-policy'] = `"plan";q=${r.limit};w=60`
  headers.ratelimit = `"plan";r=${r.remaining};t=${r.resetSeconds}`
}

/** Authenticates a request and applies limits; returns the principal or throws the envelope error. */
export function authenticateRequest(deps: AuthDeps, request: Request, queryToken: unknown, route: string, headers: Record<string, unknown>): Principal {
  const ip = deps.clientIp(request)
  const raw = credentialOf(request, queryToken)
  const failKey = `authfail:${ip}`
  // Read first, counted only on a failure: safe because nothing from here to the take awaits (the
  // token lookup is synchronous), so parallel requests cannot all pass the check before one is
  // counted. Work that awaits between the two must take first and refund (see the sign-in form).
  const failState = deps.buckets.peek(failKey, deps.authFailuresPerMinute)
  if (!failState.allowed) {
    throw new RateLimitedError('Too many failed authentication attempts from this address.', failState.retryAfterSeconds)
  }
  const principal = raw ? deps.authenticator.resolve(raw) : null
  if (!principal) {
    deps.buckets.take(failKey, deps.authFailuresPerMinute)
    throw new UnauthorizedError(raw === null ? undefined : 'The API token is unknown or revoked.')
  }
  const rateKey = principal.tokenId !== null ? `token:${principal.tokenId}` : `pk:${principal.siteId}:${ip}`
  const taken = deps.buckets.take(rateKey, principal.rateLimit)
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

/** The auth plugin: use it in every module whose routes need a token. */
export function createAuthPlugin(deps: AuthDeps) {
  return new Elysia({ name: 'mlc-auth' }).derive({ as: 'scoped' }, ({ request, query, set, body, route }) => {
    const principal = authenticateRequest(deps, request, (query as Record<string, unknown>).token, route, set.headers)
    rejectMalformed(body)
    return { principal }
  })
}
export type AuthPlugin = ReturnType<typeof createAuthPlugin>
