/**
 * store.once: a periodic job fired by every instance at the same moment runs once across them
 * (two stores, each with its own pool, over one PostgreSQL database), again once its interval has
 * passed, and not while another session holds the job's lock. On SQLite it simply runs.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { SQL } from 'bun'
import { openPostgres } from '../../../src/db/postgres/connection'
import { postgresStoreOver } from '../../../src/db/postgres/store'
import { openSqliteStore } from '../../../src/db/sqlite/store'
import type { Store } from '../../../src/db/store'
import { tempDir } from '../../helpers'
import { freshPostgresDatabase, TEST_DATABASE_URL, type TestDatabase } from './harness'

describe.skipIf(!TEST_DATABASE_URL)('store.once on PostgreSQL', () => {
  let db: TestDatabase
  let otherPool: SQL
  let a: Store
  let b: Store
  beforeAll(async () => {
    db = await freshPostgresDatabase()
    otherPool = openPostgres({ url: db.url, poolSize: 4, statementTimeoutMs: 30_000, prepare: true })
    a = postgresStoreOver(db.sql)
    b = postgresStoreOver(otherPool)
  })
  afterAll(async () => {
    await otherPool?.close()
    await db?.drop()
  })

  /** A job body that counts its runs and takes a while, as a sweep does. */
  function counting() {
    let runs = 0
    let concurrent = 0
    let maxConcurrent = 0
    const fn = async () => {
      runs++
      concurrent++
      maxConcurrent = Math.max(maxConcurrent, concurrent)
      await Bun.sleep(30)
      concurrent--
    }
    return { fn, runs: () => runs, maxConcurrent: () => maxConcurrent }
  }

  test('fired on two instances at once, the body runs once; again once the interval has passed', async () => {
    const job = counting()
    const t0 = 1_800_000_000_000
    // Ten firings per instance at the same moment (timers of several instances aligned).
    const fired = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).once('sweep', t0, 1000, job.fn)))
    expect(fired.filter(Boolean)).toHaveLength(1)
    expect(job.runs()).toBe(1)
    // Half an interval later (the other instance's timer, out of phase): skipped on both.
    expect(await a.once('sweep', t0 + 500, 1000, job.fn)).toBe(false)
    expect(await b.once('sweep', t0 + 999, 1000, job.fn)).toBe(false)
    expect(job.runs()).toBe(1)
    // A full interval later: once again, whoever fires first.
    const again = await Promise.all([a.once('sweep', t0 + 1000, 1000, job.fn), b.once('sweep', t0 + 1001, 1000, job.fn)])
    expect(again.filter(Boolean)).toHaveLength(1)
    expect(job.runs()).toBe(2)
    expect(job.maxConcurrent()).toBe(1)
  })

  test('jobs are independent of each other', async () => {
    const sweep = counting()
    const prune = counting()
    const t0 = 1_900_000_000_000
    await Promise.all([a.once('j-sweep', t0, 60_000, sweep.fn), b.once('j-prune', t0, 60_000, prune.fn)])
    expect(sweep.runs()).toBe(1)
    expect(prune.runs()).toBe(1)
  })

  test('while another session holds the job lock (checking or recording it), the job is skipped', async () => {
    const job = counting()
    const t0 = 2_000_000_000_000
    const holder = await otherPool.reserve()
    try {
      await holder`BEGIN`
      await holder`SELECT pg_advisory_xact_lock(${0x6d6c636a}, hashtext(${'held'}))`
      expect(await a.once('held', t0, 1000, job.fn)).toBe(false)
      await holder`COMMIT`
    } finally {
      holder.release()
    }
    expect(await a.once('held', t0, 1000, job.fn)).toBe(true)
    expect(job.runs()).toBe(1)
  })

  test('a start stamped far in the future (a clock once set wrong) does not block the job for good', async () => {
    const job = counting()
    await a.once('future', 3_000_000_000_000, 1000, job.fn)
    expect(await b.once('future', 2_000_000_000_000, 1000, job.fn)).toBe(true)
    expect(job.runs()).toBe(2)
  })

  test('a body that throws rejects once; the start stays recorded (the next interval tries again)', async () => {
    const t0 = 2_100_000_000_000
    await expect(a.once('fails', t0, 1000, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    const job = counting()
    expect(await b.once('fails', t0 + 10, 1000, job.fn)).toBe(false)
    expect(await b.once('fails', t0 + 1000, 1000, job.fn)).toBe(true)
  })
})

describe('store.once on SQLite', () => {
  test('runs the body every time (one server per data dir)', async () => {
    const store = openSqliteStore(tempDir())
    try {
      let runs = 0
      const fn = async () => {
        runs++
      }
      expect(await store.once('sweep', 1000, 60_000, fn)).toBe(true)
      expect(await store.once('sweep', 1001, 60_000, fn)).toBe(true)
      expect(runs).toBe(2)
    } finally {
      await store.close()
    }
  })
})
