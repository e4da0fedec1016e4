/**
 * API tokens (hash only) and their request counters on PostgreSQL: the same rows and answers as
 * the SQLite repo. Counters only ever grow by `count = count + n` in the database, so batches
 * flushed by several instances at once add up instead of overwriting each other.
 */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { TokenRepo, TokenRow, TokenUsageDelta } from '../rows'
import { atomically } from './atomic'
import { allRows, bigintColumns, firstOrNull } from './rows'

const token = bigintColumns<TokenRow>('id', 'site_id', 'request_count', 'created_ms', 'last_used_ms', 'revoked_ms')
const dayRow = bigintColumns<{ day: string; count: number }>('count')

/**
 * One entry per token (ascending id) and per token and day (ascending day): what SQLite's
 * statement-by-statement loop adds up to, in a fixed lock order (two instances flushing the same
 * tokens take their row locks in the same order, so they queue instead of deadlocking), and with
 * no key twice in one statement (ON CONFLICT cannot touch a row twice).
 */
function merge(deltas: TokenUsageDelta[]) {
  const byToken = new Map<number, { count: number; lastUsedMs: number; byDay: Map<string, number> }>()
  for (const d of deltas) {
    let m = byToken.get(d.tokenId)
    if (!m) {
      m = { count: 0, lastUsedMs: d.lastUsedMs, byDay: new Map() }
      byToken.set(d.tokenId, m)
    }
    m.count += d.count
    m.lastUsedMs = Math.max(m.lastUsedMs, d.lastUsedMs)
    for (const [day, n] of d.byDay) m.byDay.set(day, (m.byDay.get(day) ?? 0) + n)
  }
  const ids = [...byToken.keys()].sort((a, b) => a - b)
  const tokens = { ids, counts: [] as number[], lastUsed: [] as number[] }
  const days = { ids: [] as number[], days: [] as string[], counts: [] as number[] }
  for (const id of ids) {
    const m = byToken.get(id) as { count: number; lastUsedMs: number; byDay: Map<string, number> }
    tokens.counts.push(m.count)
    tokens.lastUsed.push(m.lastUsedMs)
    // Binary order, as SQLite compares text and as ORDER BY ... COLLATE "C" sorts below.
    for (const day of [...m.byDay.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      days.ids.push(id)
      days.days.push(day)
      days.counts.push(m.byDay.get(day) as number)
    }
  }
  return { tokens, days }
}

/** Statements over `api_tokens` and `token_daily_usage`. */
export function createPostgresTokenRepo(sql: SQL): AsyncRepo<TokenRepo> {
  return {
    insert: async (siteId, name, prefix, hash, scopes, nowMs) =>
      token(
        (
          await sql`INSERT INTO api_tokens (site_id, name, prefix, token_hash, scopes, created_ms)
                    VALUES (${siteId}, ${name}, ${prefix}, ${hash}, ${scopes}, ${nowMs}) RETURNING *`
        )[0],
      ),
    liveByHash: async (hash) => firstOrNull(await sql`SELECT * FROM api_tokens WHERE token_hash = ${hash} AND revoked_ms IS NULL`, token),
    byId: async (id) => firstOrNull(await sql`SELECT * FROM api_tokens WHERE id = ${id}`, token),
    listBySite: async (siteId) => allRows(await sql`SELECT * FROM api_tokens WHERE site_id = ${siteId} ORDER BY id`, token),
    revoke: async (id, nowMs) => firstOrNull(await sql`UPDATE api_tokens SET revoked_ms = ${nowMs} WHERE id = ${id} AND revoked_ms IS NULL RETURNING *`, token),
    replaceHash: async (id, hash, prefix) =>
      firstOrNull(await sql`UPDATE api_tokens SET token_hash = ${hash}, prefix = ${prefix} WHERE id = ${id} AND revoked_ms IS NULL RETURNING *`, token),
    addUsage: async (deltas) => {
      // SQLite takes its write lock for an empty batch and changes nothing; here nothing is sent.
      if (deltas.length === 0) return
      const { tokens, days } = merge(deltas)
      await atomically(sql, async (tx) => {
        // Lock the token rows in id order first (ORDER BY sorts before FOR UPDATE locks), so
        // concurrent flushes cannot deadlock; NO KEY UPDATE still lets other sessions read them
        // and check the foreign keys pointing at them.
        await tx`SELECT id FROM api_tokens WHERE id = ANY(${tx.array(tokens.ids, 'INT8')}) ORDER BY id FOR NO KEY UPDATE`
        await tx`UPDATE api_tokens AS t
                 SET request_count = t.request_count + d.n,
                     last_used_ms = GREATEST(COALESCE(t.last_used_ms, 0), d.last_used_ms)
                 FROM unnest(${tx.array(tokens.ids, 'INT8')}, ${tx.array(tokens.counts, 'INT8')}, ${tx.array(tokens.lastUsed, 'INT8')})
                   AS d(id, n, last_used_ms)
                 WHERE t.id = d.id`
        if (days.ids.length === 0) return
        await tx`INSERT INTO token_daily_usage (token_id, day, count)
                 SELECT token_id, day, n
                 FROM unnest(${tx.array(days.ids, 'INT8')}, ${tx.array(days.days, 'TEXT')}, ${tx.array(days.counts, 'INT8')})
                   AS d(token_id, day, n)
                 ORDER BY token_id, day COLLATE "C"
                 ON CONFLICT (token_id, day) DO UPDATE SET count = token_daily_usage.count + excluded.count`
      })
    },
    byIdWithDayCount: async (id, day) => {
      const rows: (Record<string, unknown> & { day_count: string })[] = await sql`
        SELECT t.*, COALESCE((SELECT count FROM token_daily_usage WHERE token_id = t.id AND day = ${day}), 0) AS day_count
        FROM api_tokens t WHERE t.id = ${id}`
      const row = rows[0]
      return row === undefined ? null : { ...token(row), day_count: Number(row.day_count) }
    },
    dayCount: async (tokenId, day) => {
      const rows: { count: string }[] = await sql`SELECT count FROM token_daily_usage WHERE token_id = ${tokenId} AND day = ${day}`
      return rows[0] === undefined ? 0 : Number(rows[0].count)
    },
    // Days compare and sort as SQLite's BINARY collation does, whatever the database's locale.
    dailySince: async (tokenId, fromDay) =>
      allRows(
        await sql`SELECT day, count FROM token_daily_usage
                  WHERE token_id = ${tokenId} AND day COLLATE "C" >= ${fromDay} ORDER BY day COLLATE "C"`,
        dayRow,
      ),
  }
}
