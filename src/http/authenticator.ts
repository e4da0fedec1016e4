/**
 * Resolves credentials to a principal. Lookups are cached in memory by token hash; the cache is
 * dropped whenever `auth_epoch` changes in the database (any token or site change, from this
 * process or the CLI in another), checked at most every `epochCheckMs`, so a revocation takes
 * effect within a second without a query per request.
 */
import type { Clock } from '../clock'
import type { SiteRow } from '../db/sites'
import type { Store } from '../db/store'
import { siteRateLimit } from '../modules/sites/plans'
import { hashToken } from '../modules/tokens/service'

export interface Principal {
  kind: 'token' | 'publishable'
  siteId: number
  site: SiteRow
  /** Token id (for `publishable`, null). */
  tokenId: number | null
  tokenName: string
  scopes: string[]
  canWrite: boolean
  tokenCreatedMs: number
  /** Requests per minute for this principal's bucket. */
  rateLimit: number
}

export class Authenticator {
  private cache = new Map<string, Principal>()
  private epoch: string | null = null
  private lastCheckMs = Number.NEGATIVE_INFINITY
  private seenLocalBumps = -1

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly epochCheckMs = 500,
  ) {}

  /** Drops the cache if another writer changed tokens or sites since the last check. */
  checkEpoch(force = false): void {
    const now = this.clock.now()
    // A change made in this process (dashboard, API) is seen at once; another process's within epochCheckMs.
    const local = this.store.meta.localBumps()
    if (!force && local === this.seenLocalBumps && now - this.lastCheckMs < this.epochCheckMs) return
    this.seenLocalBumps = local
    this.lastCheckMs = now
    const epoch = this.store.meta.get('auth_epoch')
    if (epoch !== this.epoch) {
      this.epoch = epoch
      this.cache.clear()
    }
  }

  /** The principal for a raw credential, or null when it is unknown or revoked. */
  resolve(raw: string): Principal | null {
    this.checkEpoch()
    const isPublishable = raw.startsWith('pk_')
    const cacheKey = isPublishable ? raw : hashToken(raw)
    const hit = this.cache.get(cacheKey)
    if (hit) return hit
    const principal = isPublishable ? this.lookupPublishable(raw) : this.lookupToken(cacheKey)
    if (principal) this.cache.set(cacheKey, principal)
    return principal
  }

  private lookupToken(hash: string): Principal | null {
    const token = this.store.tokens.liveByHash(hash)
    if (!token) return null
    const site = this.store.sites.byId(token.site_id)
    if (!site) return null
    const scopes = token.scopes.split(',')
    return {
      kind: 'token',
      siteId: site.id,
      site,
      tokenId: token.id,
      tokenName: token.name,
      scopes,
      canWrite: scopes.includes('write'),
      tokenCreatedMs: token.created_ms,
      rateLimit: siteRateLimit(site),
    }
  }

  private lookupPublishable(key: string): Principal | null {
    const site = this.store.sites.byPublishableKey(key)
    if (!site) return null
    return {
      kind: 'publishable',
      siteId: site.id,
      site,
      tokenId: null,
      tokenName: 'publishable key',
      scopes: ['visitor'],
      canWrite: false,
      tokenCreatedMs: site.created_ms,
      rateLimit: siteRateLimit(site),
    }
  }
}
