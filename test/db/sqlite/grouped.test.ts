/**
 * Group commit through the SQLite store: `store.grouped` jobs of one event-loop turn share a
 * transaction, each in its own savepoint; their promises settle after the COMMIT.
 */
import { Database } from 'bun:sqlite'
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { StorageUnavailableError, UniqueViolationError } from '../../../src/db/errors'
import { migrate } from '../../../src/db/sqlite/migrate'
import { databasePath, openDatabase } from '../../../src/db/sqlite/open'
import { sqliteStoreOver } from '../../../src/db/sqlite/store'
import type { Store, TxStore } from '../../../src/db/store'
import { tempDir } from '../../helpers'

let dir: string
let path: string
let db: Database
let store: Store
let reader: Database
let siteId: number
beforeEach(async () => {
  dir = tempDir()
  path = databasePath(dir)
  db = openDatabase(path)
  migrate(db)
  store = sqliteStoreOver(db, path)
  siteId = (await store.sites.insert('s', 'free', null, 'pk_group', 0)).id
  reader = new Database(path, { readonly: true })
})
afterEach(async () => {
  reader.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A job inserting the tag `name`, answering its name. */
const insert = (name: string) => async (tx: TxStore) => (await tx.tags.insert(siteId, name, '#000000', 0)).name
/** How many tags named `name` another connection sees (committed rows only). */
const visible = (name: string) => reader.query<{ n: number }, [string]>('SELECT COUNT(*) AS n FROM tags WHERE name = ?').get(name)?.n

describe('store.grouped', () => {
  test('jobs queued in one turn run in one transaction and resolve only after it commits', async () => {
    const seenByOthers: (number | undefined)[] = []
    const seenAtResolve: (number | undefined)[] = []
    const a = store.grouped(insert('a')).then((v) => {
      seenAtResolve.push(visible('a'))
      return v
    })
    const b = store.grouped(async (tx) => {
      // Same transaction as "a": another connection cannot see "a" yet.
      seenByOthers.push(visible('a'))
      return insert('b')(tx)
    })
    const settled = await Promise.all([a, b])
    expect(settled).toEqual(['a', 'b'])
    expect(seenByOthers).toEqual([0])
    // By the time a job's promise settles, its write is committed: every other connection sees it.
    expect(seenAtResolve).toEqual([1])
    expect([visible('a'), visible('b')]).toEqual([1, 1])
  })

  test('a failing job rolls back only its own writes and rejects only its own promise', async () => {
    const ok1 = store.grouped(insert('x'))
    const bad = store.grouped(async (tx) => {
      await insert('half-written')(tx)
      throw new Error('boom')
    })
    const ok2 = store.grouped(insert('y'))
    await expect(bad).rejects.toThrow('boom')
    expect(await ok1).toBe('x')
    expect(await ok2).toBe('y')
    expect([visible('x'), visible('y'), visible('half-written')]).toEqual([1, 1, 0])
  })

  test('a job that breaks a constraint fails alone (a UniqueViolationError); later batches still run', async () => {
    await store.grouped(insert('dup'))
    const [first, second] = await Promise.allSettled([store.grouped(insert('dup')), store.grouped(insert('fresh'))])
    expect(first.status).toBe('rejected')
    expect((first as PromiseRejectedResult).reason).toBeInstanceOf(UniqueViolationError)
    expect(second).toEqual({ status: 'fulfilled', value: 'fresh' })
    expect(await store.grouped(insert('later'))).toBe('later')
    expect(visible('later')).toBe(1)
  })

  test('when the transaction itself cannot happen, every job of the batch rejects, as storage unavailable', async () => {
    const blocker = new Database(path)
    blocker.exec('PRAGMA busy_timeout = 0')
    db.exec('PRAGMA busy_timeout = 0')
    blocker.exec('BEGIN IMMEDIATE')
    try {
      const results = await Promise.allSettled([store.grouped(insert('p')), store.grouped(insert('q'))])
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
      for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StorageUnavailableError)
    } finally {
      blocker.exec('ROLLBACK')
      blocker.close()
    }
    expect(visible('p')).toBe(0)
    // The lock is free again: the next group commits.
    expect(await store.grouped(insert('p'))).toBe('p')
  })

  test('a burst larger than one group commits in several transactions, every job resolved', async () => {
    const names = Array.from({ length: 600 }, (_, i) => `burst-${i}`)
    expect(await Promise.all(names.map((n) => store.grouped(insert(n))))).toEqual(names)
    expect(reader.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM tags WHERE name LIKE 'burst-%'").get()?.n).toBe(600)
  })

  test('close() commits what is queued before the connection closes', async () => {
    const queued = store.grouped(insert('last'))
    await store.close()
    expect(await queued).toBe('last')
    expect(visible('last')).toBe(1)
  })

  test('a read issued while a group is queued runs at once and sees the group only once it committed', async () => {
    const group = store.grouped(insert('g'))
    // The group begins on the next turn: the read does not wait for it.
    expect(await store.tags.byName(siteId, 'g')).toBeNull()
    await group
    expect((await store.tags.byName(siteId, 'g'))?.name).toBe('g')
  })
})
