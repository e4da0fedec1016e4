/** API tokens (hash only, never the raw token) and their request counters. */
import type { Database } from 'bun:sqlite'

export interface TokenRow {
  id: number
  site_id: number
  name: string
  prefix: string
  token_hash: string
  scopes: string
  request_count: number
  created_ms: number
  last_used_ms: number | null
  revoked_ms: number | null
}

/** A batch of counted requests for one token, as flushed from memory. */
export interface TokenUsageDelta {
  tokenId: number
  count: number
  lastUsedMs: number
  byDay: Map<string, number>
}

/** Prepared statements over `api_tokens` and `token_daily_usage`. */
export function createTokenRepo(db: Database) {
  const insert = db.query<TokenRow, [number, string, string, string, string, number]>(
    'INSERT INTO api_tokens (site_id, name, prefix, token_hash, scopes, created_ms) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
  )
  const byHash = db.query<TokenRow, [string]>('SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_ms IS NULL')
  const byId = db.query<TokenRow, [number]>('SELECT * FROM api_tokens WHERE id = ?')
  const bySite = db.query<TokenRow, [number]>('SELECT * FROM api_tokens WHERE site_id = ? ORDER BY id')
  const revoke = db.query<TokenRow, [number, number]>('UPDATE api_tokens SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL RETURNING *')
  const rehash = db.query<TokenRow, [string, string, number]>(
    'UPDATE api_tokens SET token_hash = ?, prefix = ? WHERE id = ? AND revoked_ms IS NULL RETURNING *',
  )
  const addCount = db.query<never, [number, number, number]>(
    'UPDATE api_tokens SET request_count = request_count + ?, last_used_ms = MAX(COALESCE(last_used_ms, 0), ?) WHERE id = ?',
  )
  const addDay = db.query<never, [number, string, number]>(
    'INSERT INTO token_daily_usage (token_id, day, count) VALUES (?, ?, ?) ON CONFLICT (token_id, day) DO UPDATE SET count = count + excluded.count',
  )
  const dayCount = db.query<{ count: number }, [number, string]>('SELECT count FROM token_daily_usage WHERE token_id = ? AND day = ?')
  const withDay = db.query<TokenRow & { day_count: number }, [string, number]>(
    'SELECT t.*, COALESCE((SELECT count FROM token_daily_usage WHERE token_id = t.id AND day = ?), 0) AS day_count FROM api_tokens t WHERE t.id = ?',
  )
  const daily = db.query<{ day: string; count: number }, [number, string]>(
    'SELECT day, count FROM token_daily_usage WHERE token_id = ? AND day >= ? ORDER BY day',
  )
  const flush = db.transaction((deltas: TokenUsageDelta[]) => {
    for (const d of deltas) {
      addCount.run(d.count, d.lastUsedMs, d.tokenId)
      for (const [day, n] of d.byDay) addDay.run(d.tokenId, day, n)
    }
  })
  return {
    /** Inserts a token row (the caller hashes the raw token). */
    insert: (siteId: number, name: string, prefix: string, hash: string, scopes: string, nowMs: number) =>
      insert.get(siteId, name, prefix, hash, scopes, nowMs) as TokenRow,
    /** The live (not revoked) token with this hash. */
    liveByHash: (hash: string) => byHash.get(hash),
    /** Any token by id, revoked or not. */
    byId: (id: number) => byId.get(id),
    /** A site's tokens, revoked ones included. */
    listBySite: (siteId: number) => bySite.all(siteId),
    /** Marks a token revoked; null if it was unknown or already revoked. */
    revoke: (id: number, nowMs: number) => revoke.get(nowMs, id),
    /** Replaces a live token's hash (rotation); null if unknown or revoked. */
    replaceHash: (id: number, hash: string, prefix: string) => rehash.get(hash, prefix, id),
    /** Adds counted requests in one transaction. */
    addUsage: (deltas: TokenUsageDelta[]) => flush.immediate(deltas),
    /** Stored request count of one token on one UTC day. */
    dayCount: (tokenId: number, day: string) => dayCount.get(tokenId, day)?.count ?? 0,
    /** A token by id with its stored count on one UTC day, in one statement (whoami, on every call). */
    byIdWithDayCount: (id: number, day: string) => withDay.get(day, id),
    /** Per-day counts since a UTC day (inclusive). */
    dailySince: (tokenId: number, fromDay: string) => daily.all(tokenId, fromDay),
  }
}
export type TokenRepo = ReturnType<typeof createTokenRepo>
