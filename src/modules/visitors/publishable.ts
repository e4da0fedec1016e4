/**
 * What a publishable-key (`pk_...`) caller must pass on POST visitors and POST track besides the
 * auth plugin's per-site+IP bucket: identity verification of claimed keys (when the site requires
 * it) and a per-visitor bucket, so one page cannot flood one visitor's profile.
 */
import type { Clock } from '../../clock'
import type { Store } from '../../db/store'
import { RateLimitedError } from '../../errors'
import type { Principal } from '../../http/authenticator'
import type { RateLimiter } from '../../shared/rate-limit'
import { IDENTITY_TOKEN_HEADER } from '../site-settings/model'
import { verifyClaimedKeys } from '../site-settings/service'

/** The visitor keys a request touches; `claimed` keys (from key/user_id) need proof when the site requires it. */
export interface TouchedKey {
  key: string
  claimed: boolean
}

/** Applies the publishable-key rules; API tokens (trusted backends) pass untouched. */
export async function guardPublishable(
  deps: { store: Store; clock: Clock; buckets: RateLimiter },
  principal: Principal,
  request: Request,
  bodyToken: unknown,
  touched: TouchedKey[],
): Promise<void> {
  if (principal.kind !== 'publishable') return
  const token = typeof bodyToken === 'string' && bodyToken ? bodyToken : request.headers.get(IDENTITY_TOKEN_HEADER)
  const claimed = touched.filter((t) => t.claimed).map((t) => t.key)
  await verifyClaimedKeys(deps.store, principal.siteId, claimed, token, deps.clock.now())
  for (const key of new Set(touched.map((t) => t.key))) {
    const take = deps.buckets.take(`pkv:${principal.siteId}:${key}`, principal.rateLimit)
    const taken = take instanceof Promise ? await take : take
    if (!taken.allowed) {
      throw new RateLimitedError(`Rate limit of ${taken.limit} requests per minute for visitor "${key}" exceeded.`, taken.retryAfterSeconds)
    }
  }
}
