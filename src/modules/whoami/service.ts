/** Token introspection: what a token is, and its usage including counts not flushed yet. */
import type { Clock } from '../../clock'
import type { Store } from '../../db/store'
import { NotFoundError } from '../../errors'
import type { Principal } from '../../http/authenticator'
import type { RateLimiter } from '../../shared/rate-limit'
import type { UsageCounter } from '../tokens/usage-counter'
import type { Whoami } from './model'

/** Describes the calling token. */
export async function whoami(deps: { store: Store; clock: Clock; usage: UsageCounter; buckets: RateLimiter }, p: Principal): Promise<Whoami> {
  const tokenId = p.tokenId as number
  // The row and today's stored count in one statement: whoami answers on every call.
  const row = await deps.store.tokens.byIdWithDayCount(tokenId, deps.usage.today())
  if (!row) throw new NotFoundError('This token no longer exists.')
  const storedToday = row.day_count
  const pending = deps.usage.pending(tokenId)
  const peeked = deps.buckets.peek(`token:${tokenId}`, p.rateLimit)
  const bucket = peeked instanceof Promise ? await peeked : peeked
  const lastUsed = Math.max(row.last_used_ms ?? 0, pending.lastUsedMs ?? 0)
  return {
    site_id: p.siteId,
    token_id: tokenId,
    name: row.name,
    scopes: row.scopes.split(','),
    plan: p.site.plan,
    request_count: row.request_count + pending.count,
    requests_today: storedToday + pending.today,
    rate_limit: {
      limit: bucket.limit,
      remaining: bucket.remaining,
      reset_utc: new Date(Math.ceil(deps.clock.now() / 1000 + bucket.resetSeconds) * 1000).toISOString(),
    },
    created_utc: new Date(row.created_ms).toISOString(),
    last_used_utc: lastUsed ? new Date(lastUsed).toISOString() : null,
  }
}
