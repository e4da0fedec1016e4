/**
 * TxStore.lock on whichever engine TEST_ENGINE names (npm test runs this file on both): a second
 * transaction taking a key another one holds waits until that one commits or rolls back, then sees
 * what it committed; concurrent read-modify-writes under one key lose nothing. On PostgreSQL,
 * transactions holding different keys go on side by side (SQLite serialises every write
 * transaction anyway, whatever the key).
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import type { Store } from '../../src/db/store'
import { openTestStore, TEST_ENGINE, tempDir } from '../helpers'
import { holdLock, settlesWithin } from './lock-holder'

let store: Store
let drop: () => Promise<void>
let dir: string
let siteId: number

beforeEach(async () => {
  dir = tempDir()
  const opened = await openTestStore(dir)
  store = opened.store
  drop = opened.drop
  siteId = (await store.sites.insert('Lock site', 'free', null, 'pk_lock_test', 0)).id
})
afterEach(async () => {
  await drop()
  rmSync(dir, { recursive: true, force: true })
})

const tagNames = async (s: Pick<Store, 'tags'>) => (await s.tags.list(siteId)).map((t) => t.name)

describe(`TxStore.lock (${TEST_ENGINE})`, () => {
  test('a transaction taking a held key waits for the holder to commit, then reads what it wrote', async () => {
    const holder = await holdLock(store, 'tags:test', (tx) => tx.tags.insert(siteId, 'by-holder', '#000000', 0))
    const steps: string[] = []
    const second = store.transaction(async (tx) => {
      await tx.lock('tags:test')
      steps.push('locked')
      return tagNames(tx)
    })
    try {
      expect(await settlesWithin(second, 200)).toBe(false)
      expect(steps).toEqual([])
    } finally {
      holder.release()
      await holder.done
    }
    expect(await second).toEqual(['by-holder'])
    expect(steps).toEqual(['locked'])
  })

  test('the key is free again after a ROLLBACK, and nothing of the holder remains', async () => {
    const holder = await holdLock(store, 'tags:test', (tx) => tx.tags.insert(siteId, 'rolled-back', '#000000', 0))
    const second = store.transaction(async (tx) => {
      await tx.lock('tags:test')
      return tagNames(tx)
    })
    try {
      expect(await settlesWithin(second, 200)).toBe(false)
    } finally {
      holder.release({ rollback: true })
      await holder.done
    }
    expect(await second).toEqual([])
  })

  test('a transaction that failed after taking the key lets the next one have it', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.lock('tags:test')
        throw new Error('failed while holding')
      }),
    ).rejects.toThrow('failed while holding')
    expect(
      await settlesWithin(
        store.transaction((tx) => tx.lock('tags:test')),
        2000,
      ),
    ).toBe(true)
  })

  test('taking a key twice in one transaction (or again in a nested one) does not wait for itself', async () => {
    const twice = store.transaction(async (tx) => {
      await tx.lock('tags:test')
      await tx.lock('tags:test')
      await tx.transaction((sp) => sp.lock('tags:test'))
      return 'done'
    })
    expect(await settlesWithin(twice, 2000)).toBe(true)
    expect(await twice).toBe('done')
  })

  test('twenty concurrent read-modify-writes of one counter under its key lose no increment', async () => {
    await store.meta.set('lock_test_counter', '0')
    const increment = () =>
      store.transaction(async (tx) => {
        await tx.lock('meta:lock_test_counter')
        const current = Number(await tx.meta.get('lock_test_counter'))
        // Long enough for every other transaction to have read the same value, were it not waiting.
        await Bun.sleep(5)
        await tx.meta.set('lock_test_counter', String(current + 1))
      })
    await Promise.all(Array.from({ length: 20 }, increment))
    expect(await store.meta.get('lock_test_counter')).toBe('20')
  })

  test.if(TEST_ENGINE === 'postgres')('PostgreSQL: a transaction holding another key is not kept waiting', async () => {
    const holder = await holdLock(store, 'tags:one')
    try {
      const other = store.transaction(async (tx) => {
        await tx.lock('tags:two')
        await tx.tags.insert(siteId, 'beside', '#000000', 0)
      })
      // Committed while the holder still holds its key.
      expect(await settlesWithin(other, 5000)).toBe(true)
      await other
      expect(await tagNames(store)).toEqual(['beside'])
    } finally {
      holder.release()
      await holder.done
    }
  })
})
