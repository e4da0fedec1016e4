/**
 * The SQLite engine behind the async interface: a transaction spans `await`s, yet no other
 * request's statement runs inside it (the connection gate). An acknowledged write is never undone
 * by someone else's failure; a statement from outside waits for the open transaction and sees only
 * what was committed; a transaction inside a transaction is a savepoint.
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
/** Another connection to the file: sees committed rows only. */
let reader: Database
let siteId: number
beforeEach(async () => {
  dir = tempDir('mlc-async-store-')
  path = databasePath(dir)
  db = openDatabase(path)
  migrate(db)
  store = sqliteStoreOver(db, path)
  siteId = (await store.sites.insert('s', 'free', null, 'pk_async', 0)).id
  reader = new Database(path, { readonly: true })
})
afterEach(async () => {
  reader.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

const tag = (s: Store | TxStore, name: string) => s.tags.insert(siteId, name, '#000000', 0)
/** Tag names as the store answers them (sorted). */
const names = async () => (await store.tags.list(siteId)).map((t) => t.name).sort()
/** Tag names committed to the file, as another connection reads them (sorted). */
const committed = () =>
  reader
    .query<{ name: string }, []>('SELECT name FROM tags ORDER BY name')
    .all()
    .map((r) => r.name)
/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire: () => void = () => {}
  const promise = new Promise<void>((resolve) => {
    fire = resolve
  })
  return { promise, fire }
}

describe('two interleaved requests', () => {
  test("a write issued while another request's transaction is open survives that transaction's rollback; the failed writes are gone", async () => {
    const order: string[] = []
    const open = signal()
    // Request A: writes, awaits (other requests run meanwhile), writes again, then fails.
    const a = store.transaction(async (tx) => {
      await tag(tx, 'a-1')
      open.fire()
      await Bun.sleep(30)
      await tag(tx, 'a-2')
      throw new Error('request A failed')
    })
    a.catch(() => order.push('A rolled back'))
    await open.promise
    // Request B, while A's transaction is open: its write waits for the connection, then commits on its own.
    const b = tag(store, 'b').then((row) => {
      order.push('B written')
      return row
    })
    // Meanwhile nothing of A is visible to anyone else.
    expect(committed()).toEqual([])
    await expect(a).rejects.toThrow('request A failed')
    expect((await b).name).toBe('b')
    expect(order).toEqual(['A rolled back', 'B written'])
    expect(await names()).toEqual(['b'])
    expect(committed()).toEqual(['b'])
  })

  test('two transactions that both await run one after the other, in arrival order, never interleaved', async () => {
    const steps: string[] = []
    const run = (name: string, pauseMs: number) =>
      store.transaction(async (tx) => {
        steps.push(`${name} begins`)
        await tag(tx, `${name}-1`)
        await Bun.sleep(pauseMs)
        await tag(tx, `${name}-2`)
        steps.push(`${name} ends`)
        return name
      })
    expect(await Promise.all([run('first', 30), run('second', 0), run('third', 10)])).toEqual(['first', 'second', 'third'])
    expect(steps).toEqual(['first begins', 'first ends', 'second begins', 'second ends', 'third begins', 'third ends'])
    expect(committed()).toEqual(['first-1', 'first-2', 'second-1', 'second-2', 'third-1', 'third-2'])
  })
})

describe('a statement from outside', () => {
  test('waits for the open transaction and then sees only committed data', async () => {
    const open = signal()
    const release = signal()
    const tx = store.transaction(async (t) => {
      await tag(t, 'pending')
      open.fire()
      await release.promise
      await tag(t, 'pending-2')
    })
    await open.promise
    let answered = false
    const read = store.tags.byName(siteId, 'pending').then((row) => {
      answered = true
      return row
    })
    await Bun.sleep(20)
    // Still waiting: it would otherwise have seen the transaction's uncommitted row.
    expect(answered).toBe(false)
    release.fire()
    await tx
    expect((await read)?.name).toBe('pending')
    expect(committed()).toEqual(['pending', 'pending-2'])
  })

  test('queued behind a transaction that rolls back, it sees none of its writes', async () => {
    const open = signal()
    const failing = store.transaction(async (t) => {
      await tag(t, 'doomed')
      open.fire()
      await Bun.sleep(10)
      throw new Error('no')
    })
    await open.promise
    const read = store.tags.byName(siteId, 'doomed')
    await expect(failing).rejects.toThrow('no')
    expect(await read).toBeNull()
  })

  test("runs at once, on the caller's turn, when no transaction is open", async () => {
    const row = store.tags.byName(siteId, 'nothing')
    let settled = false
    void row.then(() => {
      settled = true
    })
    await Promise.resolve()
    expect(settled).toBe(true)
  })
})

describe('nested transactions', () => {
  test('a transaction inside a transaction is a savepoint: its failure undoes only its own writes', async () => {
    await store.transaction(async (tx) => {
      await tag(tx, 'outer-1')
      await expect(
        tx.transaction(async (inner) => {
          await tag(inner, 'inner-failed')
          throw new Error('inner failed')
        }),
      ).rejects.toThrow('inner failed')
      expect(await tx.tags.byName(siteId, 'inner-failed')).toBeNull()
      expect(await tx.transaction(async (inner) => (await tag(inner, 'inner-kept')).name)).toBe('inner-kept')
      await tag(tx, 'outer-2')
    })
    expect(committed()).toEqual(['inner-kept', 'outer-1', 'outer-2'])
  })

  test('a released savepoint still rolls back with the transaction around it', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.transaction((inner) => tag(inner, 'inside'))
        await tag(tx, 'outside')
        throw new Error('outer failed')
      }),
    ).rejects.toThrow('outer failed')
    expect(committed()).toEqual([])
  })
})

describe('errors in common words', () => {
  test('a duplicate is a UniqueViolationError outside and inside a transaction; the failed transaction keeps nothing', async () => {
    await tag(store, 'dup')
    const outside = await tag(store, 'dup').catch((err: unknown) => err)
    expect(outside).toBeInstanceOf(UniqueViolationError)
    expect((outside as UniqueViolationError).columns).toEqual(['site_id', 'name'])
    const inside = await store
      .transaction(async (tx) => {
        await tag(tx, 'first-in-tx')
        await tag(tx, 'dup')
      })
      .catch((err: unknown) => err)
    expect(inside).toBeInstanceOf(UniqueViolationError)
    expect(committed()).toEqual(['dup'])
  })

  test('withoutWaiting fails at once, retryable, while another connection holds the write lock; the store works again after', async () => {
    const blocker = new Database(path)
    blocker.exec('BEGIN IMMEDIATE')
    try {
      const started = performance.now()
      const err = await store.withoutWaiting((tx) => tag(tx, 'background')).catch((e: unknown) => e)
      // The connection's busy timeout is 5 s: failing this fast means nobody slept in the busy handler.
      expect(performance.now() - started).toBeLessThan(1000)
      expect(err).toBeInstanceOf(StorageUnavailableError)
      expect((err as StorageUnavailableError).reason).toBe('conflict')
      expect((err as StorageUnavailableError).retryable).toBe(true)
    } finally {
      blocker.exec('ROLLBACK')
      blocker.close()
    }
    expect((await store.withoutWaiting((tx) => tag(tx, 'background'))).name).toBe('background')
    expect(await store.transaction(async (tx) => (await tag(tx, 'after')).name)).toBe('after')
    expect(committed()).toEqual(['after', 'background'])
  })
})
