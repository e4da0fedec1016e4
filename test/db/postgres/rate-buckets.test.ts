/**
 * The rate-bucket checkpoints: PostgreSQL answers what SQLite answers, and instances saving and
 * pruning at once neither deadlock nor lose a write.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createPostgresRateBucketRepo } from '../../../src/db/postgres/rate-buckets'
import type { BucketRow } from '../../../src/db/rows'
import { asAsync, type Engines, openEngines, sameOnBoth } from './engines'
import { TEST_DATABASE_URL } from './harness'

const T0 = 1_700_000_000_000

/**
 * loadAll has no ORDER BY on either engine (SQLite answers in rowid order, PostgreSQL in heap
 * order; the caller builds a map by key), so its rows are compared as a set, sorted by key.
 */
function byKey(rows: BucketRow[]): BucketRow[] {
  return [...rows].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

describe.skipIf(!TEST_DATABASE_URL)('rate buckets on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await openEngines()
  })
  afterAll(() => e?.close())

  test('save (draining rows upserted, full rows deleted, last row of a key wins), loadAll since, prune', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.rateBuckets), createPostgresRateBucketRepo(e.pg), async (buckets) => [
      byKey(await buckets.loadAll()),
      await buckets.save([]),
      await buckets.prune(T0),
      await buckets.save([
        { key: 'api:token:1', tokens: 59.5, updated_ms: T0 },
        { key: 'ip:203.0.113.5', tokens: 1 / 3, updated_ms: T0 + 1000 },
        { key: 'ip:2001:db8::1', tokens: 0.1 + 0.2, updated_ms: T0 + 2000 },
        { key: 'widget:pk_ünïcode,"quoted" {x}', tokens: 0, updated_ms: T0 + 3000 },
        { key: 'auth:ip:198.51.100.7', tokens: 1e-300, updated_ms: T0 + 4000 },
      ]),
      byKey(await buckets.loadAll()),
      byKey(await buckets.loadAll(T0 + 2000)),
      byKey(await buckets.loadAll(T0 + 4001)),
      await buckets.save([
        // Refilled: its row goes.
        { key: 'api:token:1', tokens: 60, updated_ms: T0 + 5000, full: true },
        // Full for a key without a row: nothing to delete.
        { key: 'never:stored', tokens: 10, updated_ms: T0 + 5000, full: true },
        // Full, then draining again within one batch: the row stays with the last level.
        { key: 'ip:203.0.113.5', tokens: 10, updated_ms: T0 + 5000, full: true },
        { key: 'ip:203.0.113.5', tokens: 9.25, updated_ms: T0 + 5001 },
        // Draining, then full within one batch: the row goes.
        { key: 'ip:2001:db8::1', tokens: 3, updated_ms: T0 + 5000 },
        { key: 'ip:2001:db8::1', tokens: 10, updated_ms: T0 + 5002, full: true },
        { key: 'new:key', tokens: 2.5, updated_ms: T0 + 5003, full: false },
      ]),
      byKey(await buckets.loadAll()),
      // Strictly older than: the row updated exactly at the bound stays.
      await buckets.prune(T0 + 3000),
      byKey(await buckets.loadAll()),
      await buckets.prune(T0 + 3000),
      await buckets.prune(T0 + 10_000),
      byKey(await buckets.loadAll()),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[4]).toEqual([
      { key: 'api:token:1', tokens: 59.5, updated_ms: T0 },
      { key: 'auth:ip:198.51.100.7', tokens: 1e-300, updated_ms: T0 + 4000 },
      { key: 'ip:2001:db8::1', tokens: 0.1 + 0.2, updated_ms: T0 + 2000 },
      { key: 'ip:203.0.113.5', tokens: 1 / 3, updated_ms: T0 + 1000 },
      { key: 'widget:pk_ünïcode,"quoted" {x}', tokens: 0, updated_ms: T0 + 3000 },
    ])
    expect(fromPg[8]).toEqual([
      { key: 'auth:ip:198.51.100.7', tokens: 1e-300, updated_ms: T0 + 4000 },
      { key: 'ip:203.0.113.5', tokens: 9.25, updated_ms: T0 + 5001 },
      { key: 'new:key', tokens: 2.5, updated_ms: T0 + 5003 },
      { key: 'widget:pk_ünïcode,"quoted" {x}', tokens: 0, updated_ms: T0 + 3000 },
    ])
    expect(fromPg.slice(9, 14)).toEqual([0, fromPg[8], 0, 4, []])
  })

  test('a checkpoint of 20,000 buckets (one per client IP) in one save', async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ key: `ip:10.${i >> 8}.${i & 255}.1`, tokens: (i % 60) + 0.5, updated_ms: T0 + i }))
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.rateBuckets), createPostgresRateBucketRepo(e.pg), async (buckets) => {
      await buckets.save(rows)
      const loaded = byKey(await buckets.loadAll(T0 + 10_000))
      const pruned = await buckets.prune(T0 + 15_000)
      return [loaded.length, loaded.slice(0, 3), pruned, (await buckets.loadAll()).length]
    })
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg).toEqual([10_000, expect.any(Array), 15_000, 5_000])
  })

  test('inside a transaction: the save commits or rolls back with it', async () => {
    const pg = createPostgresRateBucketRepo(e.pg)
    await pg.prune(Number.MAX_SAFE_INTEGER)
    await e.pg
      .begin(async (tx) => {
        await createPostgresRateBucketRepo(tx).save([{ key: 'tx:rolled-back', tokens: 1, updated_ms: T0 }])
        throw new Error('the caller fails after the save')
      })
      .catch(() => {})
    await e.pg.begin(async (tx) => {
      await createPostgresRateBucketRepo(tx).save([{ key: 'tx:committed', tokens: 2, updated_ms: T0 }])
    })
    expect(await pg.loadAll()).toEqual([{ key: 'tx:committed', tokens: 2, updated_ms: T0 }])
  })

  test('instances saving overlapping keys in opposite orders and pruning at once: no deadlock, last save wins', async () => {
    const pg = createPostgresRateBucketRepo(e.pg)
    await pg.prune(Number.MAX_SAFE_INTEGER)
    const keys = Array.from({ length: 200 }, (_, i) => `shared:${i}`)
    const work: Promise<unknown>[] = []
    for (let round = 0; round < 12; round++) {
      const order = round % 2 === 0 ? keys : [...keys].reverse()
      // Every other key is full in odd rounds: deletes and upserts interleave across instances.
      work.push(pg.save(order.map((key, i) => ({ key, tokens: round, updated_ms: T0 + round, full: round % 2 === 1 && i % 2 === 0 }))))
      work.push(pg.prune(T0 - 1))
    }
    await Promise.all(work)
    const rows = await pg.loadAll()
    expect(rows.length).toBeGreaterThan(0)
    for (const r of rows) expect(r.updated_ms - T0).toBe(r.tokens)
  })
})
