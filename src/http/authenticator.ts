/**
 * Resolves credentials to a principal. Lookups are cached in memory by credential; the cache is
 * dropped whenever `auth_epoch` changes in the database (any token or site change, from this
 * process or the CLI in another), checked at most every `epochCheckMs`, so a revocation takes
 * effect within a second without a query per request.
 */
import type { Clock } from '../clock'
import type { SiteRow } from '../db/rows'
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
  /** The epoch read in flight: every resolve waits for it rather than trusting the cache meanwhile. */
  private checking: Promise<void> | null = null
  /** Lookups in flight by cache key: parallel requests with the same credential share one. */
  private inFlightLookups = new Map<string, Promise<Principal | null>>()
  /** Bumped whenever the cache is dropped, so a lookup that began before cannot put a stale principal back. */
  private generation = 0

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly epochCheckMs = 500,
  ) {}

  /**
   * Drops the cache if another writer changed tokens or sites since the last check. Answers
   * undefined when no check is due (no I/O), else the promise of the check (the database's
   * `auth_epoch` is read); until it settles, the cache is not to be trusted.
   */
  checkEpoch(force = false): Promise<void> | undefined {
    if (this.checking !== null) return this.checking
    const now = this.clock.now()
    // A change made in this process (dashboard, API) is seen at once; another process's within epochCheckMs.
    const local = this.store.localChanges()
    if (!force && local === this.seenLocalBumps && now - this.lastCheckMs < this.epochCheckMs) return undefined
    this.seenLocalBumps = local
    this.lastCheckMs = now
    this.checking = this.readEpoch().finally(() => {
      this.checking = null
    })
    return this.checking
  }

  private async readEpoch(): Promise<void> {
    let epoch: string | null
    try {
      epoch = await this.store.meta.get('auth_epoch')
    } catch (err) {
      // Unread: the next resolve checks again instead of trusting the cache for another interval.
      this.seenLocalBumps = -1
      this.lastCheckMs = Number.NEGATIVE_INFINITY
      throw err
    }
    if (epoch !== this.epoch) {
      this.epoch = epoch
      this.cache.clear()
      this.inFlightLookups.clear()
      this.generation++
    }
  }

  /**
   * The cache key of a credential: the credential itself. Keying on the raw token (only the
   * database stores hashes) spares a SHA-256 on every request, ~1 us of a ~25 us GET; the cache
   * lives in this process's memory, which sees every token anyway while serving it.
   */
  keyOf(raw: string): string {
    return raw
  }

  /** The principal remembered under `key` (call after any `checkEpoch` due has settled). */
  cached(key: string): Principal | undefined {
    return this.cache.get(key)
  }

  /** The lookup of `key` another request started and that has not answered yet. */
  inFlight(key: string): Promise<Principal | null> | undefined {
    return this.inFlightLookups.get(key)
  }

  /** Looks a credential up in the database and remembers a known one; parallel callers may join it (`inFlight`). */
  lookup(raw: string, key: string): Promise<Principal | null> {
    const generation = this.generation
    const pending = (raw.startsWith('pk_') ? this.lookupPublishable(raw) : this.lookupToken(hashToken(raw))).then(
      (principal) => {
        if (this.inFlightLookups.get(key) === pending) this.inFlightLookups.delete(key)
        if (principal && generation === this.generation) this.cache.set(key, principal)
        return principal
      },
      (err) => {
        if (this.inFlightLookups.get(key) === pending) this.inFlightLookups.delete(key)
        throw err
      },
    )
    this.inFlightLookups.set(key, pending)
    return pending
  }

  /**
   * The principal for a raw credential, or null when it is unknown or revoked. Answers at once
   * (no promise) on a cache hit when no epoch check is due: the path of nearly every request.
   */
  resolve(raw: string): Principal | null | Promise<Principal | null> {
    const checking = this.checkEpoch()
    if (checking !== undefined) return checking.then(() => this.resolveChecked(raw))
    return this.resolveChecked(raw)
  }

  private resolveChecked(raw: string): Principal | Promise<Principal | null> {
    const key = this.keyOf(raw)
    return this.cache.get(key) ?? this.inFlightLookups.get(key) ?? this.lookup(raw, key)
  }

  private async lookupToken(hash: string): Promise<Principal | null> {
    const token = await this.store.tokens.liveByHash(hash)
    if (!token) return null
    const site = await this.store.sites.byId(token.site_id)
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

  private async lookupPublishable(key: string): Promise<Principal | null> {
    const site = await this.store.sites.byPublishableKey(key)
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
