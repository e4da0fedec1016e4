/**
 * API tokens: the one way to create, list, revoke and rotate them (CLI, dashboard and API all
 * call these). The raw token is returned once and never stored: only its SHA-256 is.
 */
import type { Clock } from '../../clock'
import type { TokenRow } from '../../db/rows'
import type { Store } from '../../db/store'
import { BadRequestError, NotFoundError } from '../../errors'
import { randomSecret, sha256Hex } from '../../random'
import { type UsageCounter, utcDay } from './usage-counter'

export const TOKEN_PREFIX = 'mlc_'
export const SCOPE_SETS = { read: ['read'], 'read,write': ['read', 'write'] } as const

/** Parses a scopes argument (`read` or `read,write`, order and spaces ignored). */
export function parseScopes(raw: string): string[] {
  const parts = [
    ...new Set(
      raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ].sort()
  if (parts.length === 1 && parts[0] === 'read') return ['read']
  if (parts.length === 2 && parts[0] === 'read' && parts[1] === 'write') return ['read', 'write']
  throw new BadRequestError('scopes must be "read" or "read,write"', 'scopes')
}

/** The shape shown to users: never the hash, never the raw token. */
export function presentToken(t: TokenRow) {
  return {
    id: t.id,
    site_id: t.site_id,
    name: t.name,
    prefix: t.prefix,
    scopes: t.scopes.split(','),
    request_count: t.request_count,
    created_utc: new Date(t.created_ms).toISOString(),
    last_used_utc: t.last_used_ms ? new Date(t.last_used_ms).toISOString() : null,
    revoked_utc: t.revoked_ms ? new Date(t.revoked_ms).toISOString() : null,
  }
}

/** The stored hash of a raw token. */
export function hashToken(raw: string): string {
  return sha256Hex(raw)
}

function mintRaw(): { raw: string; prefix: string; hash: string } {
  const raw = randomSecret(TOKEN_PREFIX, 32)
  return { raw, prefix: `${raw.slice(0, TOKEN_PREFIX.length + 6)}…`, hash: hashToken(raw) }
}

/** Creates a token for a site; the raw token is in `token` and is never retrievable again. */
export async function createToken(store: Store, clock: Clock, input: { siteId: number; scopes: string; name?: string }) {
  if (!(await store.sites.byId(input.siteId))) throw new NotFoundError(`No site with id ${input.siteId}.`, 'site')
  const scopes = parseScopes(input.scopes)
  const name = (input.name ?? 'API token').trim()
  if (!name || name.length > 100) throw new BadRequestError('name must be 1-100 characters', 'name')
  const { raw, prefix, hash } = mintRaw()
  const row = await store.tokens.insert(input.siteId, name, prefix, hash, scopes.join(','), clock.now())
  await store.meta.bump('auth_epoch')
  return { ...presentToken(row), token: raw }
}

/** Revokes a token at once (running servers drop it within a second). */
export async function revokeToken(store: Store, clock: Clock, id: number, siteId?: number) {
  const existing = await store.tokens.byId(id)
  if (!existing || (siteId !== undefined && existing.site_id !== siteId)) throw new NotFoundError(`No token with id ${id}.`, 'id')
  const row = (await store.tokens.revoke(id, clock.now())) ?? existing
  await store.meta.bump('auth_epoch')
  return presentToken(row)
}

/** Replaces a token's secret: the new raw token is returned once, the old one stops working. */
export async function rotateToken(store: Store, id: number, siteId?: number) {
  const existing = await store.tokens.byId(id)
  if (!existing || (siteId !== undefined && existing.site_id !== siteId)) throw new NotFoundError(`No token with id ${id}.`, 'id')
  if (existing.revoked_ms) throw new BadRequestError(`Token ${id} is revoked; create a new one.`, 'id')
  const { raw, prefix, hash } = mintRaw()
  // Revoked since the check above (a concurrent revoke): the update matched nothing.
  const row = await store.tokens.replaceHash(id, hash, prefix)
  if (!row) throw new BadRequestError(`Token ${id} is revoked; create a new one.`, 'id')
  await store.meta.bump('auth_epoch')
  return { ...presentToken(row), token: raw }
}

/** A site's tokens (revoked ones included, marked). */
export async function listTokens(store: Store, siteId: number) {
  return (await store.tokens.listBySite(siteId)).map(presentToken)
}

/**
 * A token's usage for the dashboard: total requests, last use and requests per UTC day over the
 * last `days` days (oldest first, idle days as 0), including counts not flushed to disk yet.
 */
export async function tokenUsage(store: Store, usage: UsageCounter, tokenId: number, days = 30) {
  const row = await store.tokens.byId(tokenId)
  if (!row) throw new NotFoundError(`No token with id ${tokenId}.`, 'id')
  const pending = usage.pending(tokenId)
  const today = usage.today()
  const todayMs = Date.parse(`${today}T00:00:00Z`)
  const from = utcDay(todayMs - (days - 1) * 86_400_000)
  const stored = new Map((await store.tokens.dailySince(tokenId, from)).map((d) => [d.day, d.count]))
  const daily = Array.from({ length: days }, (_, i) => {
    const day = utcDay(todayMs - (days - 1 - i) * 86_400_000)
    return { day, count: (stored.get(day) ?? 0) + (day === today ? pending.today : 0) }
  })
  const lastUsed = Math.max(row.last_used_ms ?? 0, pending.lastUsedMs ?? 0)
  return { request_count: row.request_count + pending.count, last_used_utc: lastUsed ? new Date(lastUsed).toISOString() : null, daily }
}

/** One token of a site (404 for another site's token, as for an unknown one). */
export async function getToken(store: Store, id: number, siteId: number) {
  const row = await store.tokens.byId(id)
  if (!row || row.site_id !== siteId) throw new NotFoundError(`No token with id ${id}.`, 'id')
  return presentToken(row)
}
