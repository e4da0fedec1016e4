/**
 * The tokens repository: PostgreSQL answers what SQLite answers (rows, null for unknown or
 * revoked, usage counters and daily rollups), and its counters add up under concurrent flushes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { UniqueViolationError } from '../../../src/db/errors'
import { fromPostgresError } from '../../../src/db/postgres/errors'
import { createPostgresSiteRepo } from '../../../src/db/postgres/sites'
import { createPostgresTokenRepo } from '../../../src/db/postgres/tokens'
import type { TokenUsageDelta } from '../../../src/db/rows'
import { asAsync, type Engines, openEngines, sameOnBoth } from './engines'
import { TEST_DATABASE_URL } from './harness'

const T0 = 1_700_000_000_000

function delta(tokenId: number, count: number, lastUsedMs: number, days: [string, number][]): TokenUsageDelta {
  return { tokenId, count, lastUsedMs, byDay: new Map(days) }
}

/** What a promise settled to, so a step that throws on both engines compares as a step. */
async function settled(p: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await p }
  } catch {
    return 'threw'
  }
}

describe.skipIf(!TEST_DATABASE_URL)('tokens on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await openEngines()
    for (const sites of [asAsync(e.sqlite.sites), createPostgresSiteRepo(e.pg)]) {
      await sites.insert('one', 'free', null, 'pk_one', T0)
      await sites.insert('two', 'pro', 600, 'pk_two', T0)
      await sites.insert('three', 'free', null, 'pk_three', T0)
    }
  })
  afterAll(() => e?.close())

  test('insert, lookups, list, revoke, replaceHash, duplicates, other site', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.tokens), createPostgresTokenRepo(e.pg), async (tokens) => [
      await tokens.insert(1, 'CI deploy', 'sk_live_ab', 'hash-1', 'read,write', T0),
      await tokens.insert(1, 'read only ✓ ünïcode', 'sk_live_cd', 'hash-2', 'read', T0 + 1),
      await tokens.insert(2, 'other site', 'sk_live_ef', 'hash-3', 'read,write', T0 + 2),
      await tokens.insert(3, 'odd days', 'sk_live_od', 'hash-odd', 'read', T0 + 3),
      // Every insert comes before the failing ones: a refused insert consumes an identity value
      // on PostgreSQL (sequences are not transactional) but no rowid on SQLite, so ids given
      // after a failed insert differ between the engines.
      // The same hash twice is refused by the unique index on both engines.
      await settled(tokens.insert(1, 'dup', 'sk_live_ab', 'hash-1', 'read', T0 + 3)),
      await tokens.liveByHash('hash-1'),
      await tokens.liveByHash('HASH-1'),
      await tokens.liveByHash('nope'),
      await tokens.byId(2),
      await tokens.byId(99),
      await tokens.listBySite(1),
      await tokens.listBySite(2),
      await tokens.listBySite(3),
      await tokens.revoke(2, T0 + 10),
      await tokens.revoke(2, T0 + 11),
      await tokens.revoke(99, T0 + 12),
      await tokens.liveByHash('hash-2'),
      await tokens.byId(2),
      await tokens.replaceHash(1, 'hash-1b', 'sk_live_zz'),
      await tokens.replaceHash(2, 'hash-2b', 'sk_live_yy'),
      await tokens.replaceHash(99, 'hash-x', 'sk_live_xx'),
      await tokens.liveByHash('hash-1'),
      await tokens.liveByHash('hash-1b'),
      // Rotating onto another token's hash collides too.
      await settled(tokens.replaceHash(3, 'hash-1b', 'sk_live_ww')),
      await tokens.listBySite(1),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[4]).toBe('threw')
    expect(fromPg[23]).toBe('threw')
    expect((fromPg[13] as { revoked_ms: number }).revoked_ms).toBe(T0 + 10)
  })

  test('a duplicate hash surfaces as UniqueViolationError once mapped', async () => {
    const err = await createPostgresTokenRepo(e.pg)
      .insert(1, 'dup', 'sk_live_ab', 'hash-3', 'read', T0)
      .catch((x: unknown) => x)
    const mapped = fromPostgresError(err)
    expect(mapped).toBeInstanceOf(UniqueViolationError)
    expect((mapped as UniqueViolationError).columns).toEqual(['token_hash'])
    expect((mapped as UniqueViolationError).constraint).toBe('api_tokens_token_hash_key')
    // The message names the key, never the duplicated hash.
    expect((mapped as Error).message).not.toContain('hash-3')
  })

  test('addUsage, dayCount, dailySince', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.tokens), createPostgresTokenRepo(e.pg), async (tokens) => [
      await tokens.dayCount(1, '2024-03-01'),
      await tokens.dailySince(1, '2024-01-01'),
      await tokens.addUsage([]),
      await tokens.addUsage([
        delta(1, 5, T0 + 500, [
          ['2024-03-02', 3],
          ['2024-03-01', 2],
        ]),
        delta(3, 1, T0 + 400, [['2024-03-01', 1]]),
      ]),
      await tokens.byId(1),
      await tokens.byId(3),
      // The same token twice in one batch, an older last use, a zero count, a day already stored.
      await tokens.addUsage([
        delta(1, 2, T0 + 450, [['2024-03-02', 2]]),
        delta(1, 1, T0 + 900, [
          ['2024-03-03', 1],
          ['2024-03-02', 0],
        ]),
        delta(2, 0, T0 + 100, [['2024-02-29', 0]]),
      ]),
      await tokens.byId(1),
      await tokens.byId(2),
      // A last use older than the stored one leaves it; last_used_ms never goes back.
      await tokens.addUsage([delta(1, 1, T0, [['2024-03-03', 1]])]),
      await tokens.byId(1),
      // A token unknown to api_tokens: its counter update touches nothing, its day row fails the
      // foreign key, and the whole batch is rolled back on both engines.
      await settled(tokens.addUsage([delta(1, 100, T0 + 5000, [['2024-03-04', 100]]), delta(99, 1, T0, [['2024-03-04', 1]])])),
      await tokens.byId(1),
      await tokens.dayCount(1, '2024-03-04'),
      // Unknown token without days: nothing to fail, nothing changes.
      await tokens.addUsage([delta(99, 7, T0, [])]),
      await tokens.dayCount(1, '2024-03-01'),
      await tokens.dayCount(1, '2024-03-02'),
      await tokens.dayCount(1, '2024-03-03'),
      await tokens.dayCount(1, '2024-03-05'),
      await tokens.dayCount(3, '2024-03-02'),
      await tokens.dayCount(2, '2024-02-29'),
      await tokens.dailySince(1, '2024-01-01'),
      await tokens.dailySince(1, '2024-03-02'),
      await tokens.dailySince(1, '2024-03-04'),
      await tokens.dailySince(2, ''),
      await tokens.dailySince(3, '2024-03-01'),
      await tokens.dailySince(99, ''),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[7]).toMatchObject({ id: 1, request_count: 8, last_used_ms: T0 + 900 })
    expect(fromPg[21]).toEqual([
      { day: '2024-03-01', count: 2 },
      { day: '2024-03-02', count: 5 },
      { day: '2024-03-03', count: 2 },
    ])
  })

  test('days sort and compare byte-wise, as SQLite does, whatever their text', async () => {
    // Days are ISO dates in practice; odd strings prove the array encoding and the collation.
    const odd: [string, number][] = [
      ['b', 1],
      ['B', 2],
      ['a,"quoted" {x}', 3],
      ['ä', 4],
      ['Z', 5],
      ['_', 6],
      ['2024-01-01', 7],
    ]
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.tokens), createPostgresTokenRepo(e.pg), async (tokens) => [
      await tokens.addUsage([delta(4, 28, T0, odd)]),
      await tokens.dailySince(4, ''),
      await tokens.dailySince(4, 'Z'),
      await tokens.dailySince(4, 'a'),
      await tokens.dayCount(4, 'a,"quoted" {x}'),
      await tokens.dayCount(4, 'ä'),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect((fromPg[1] as { day: string }[]).map((r) => r.day)).toEqual(['2024-01-01', 'B', 'Z', '_', 'a,"quoted" {x}', 'b', 'ä'])
  })

  test('inside a transaction: committed with it; a failed batch undoes only itself', async () => {
    const sqliteStore = e.sqlite
    // SQLite: a nested bun:sqlite transaction is a savepoint.
    const fromSqlite = (() => {
      sqliteStore.transaction(() => {
        sqliteStore.tokens.addUsage([delta(3, 10, T0 + 7000, [['2024-04-01', 10]])])
        try {
          sqliteStore.tokens.addUsage([delta(3, 1000, T0, [['2024-04-01', 1000]]), delta(99, 1, T0, [['2024-04-01', 1]])])
        } catch {}
      })
      return [sqliteStore.tokens.byId(3), sqliteStore.tokens.dayCount(3, '2024-04-01')]
    })()
    await e.pg.begin(async (tx) => {
      const tokens = createPostgresTokenRepo(tx)
      await tokens.addUsage([delta(3, 10, T0 + 7000, [['2024-04-01', 10]])])
      await tokens.addUsage([delta(3, 1000, T0, [['2024-04-01', 1000]]), delta(99, 1, T0, [['2024-04-01', 1]])]).catch(() => {})
    })
    const pg = createPostgresTokenRepo(e.pg)
    const fromPg = [await pg.byId(3), await pg.dayCount(3, '2024-04-01')]
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[1]).toBe(10)
  })

  test('concurrent flushes over the same tokens in opposite orders add up (no lost update, no deadlock)', async () => {
    const pg = createPostgresTokenRepo(e.pg)
    const ids: number[] = []
    for (let i = 0; i < 6; i++) ids.push((await pg.insert(3, `busy ${i}`, 'sk_live_bz', `hash-busy-${i}`, 'read', T0)).id)
    const before = await Promise.all(ids.map((id) => pg.byId(id)))
    const flushes = Array.from({ length: 24 }, (_, f) => {
      const order = f % 2 === 0 ? ids : [...ids].reverse()
      return pg.addUsage(
        order.map((id) =>
          delta(id, 1, T0 + f, [
            ['2024-05-01', 1],
            ['2024-05-02', 2],
          ]),
        ),
      )
    })
    await Promise.all(flushes)
    for (const [i, id] of ids.entries()) {
      expect(await pg.byId(id)).toMatchObject({ request_count: (before[i]?.request_count ?? 0) + 24, last_used_ms: T0 + 23 })
      expect(await pg.dailySince(id, '2024-05-01')).toEqual([
        { day: '2024-05-01', count: 24 },
        { day: '2024-05-02', count: 48 },
      ])
    }
  })
})
