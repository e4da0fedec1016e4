/** The SQLite store: repositories prepare their statements on first use, all of their SQL compiles, and the store offers each of them. */

import { Database } from 'bun:sqlite'
import { afterEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withLazyStatements } from '../../../src/db/sqlite/lazy-statements'
import { migrate } from '../../../src/db/sqlite/migrate'
import { databasePath, openDatabase } from '../../../src/db/sqlite/open'
import { createSqliteRepos } from '../../../src/db/sqlite/repos'
import { sqliteStoreOver } from '../../../src/db/sqlite/store'
import type { Store } from '../../../src/db/store'

let dir: string
let store: Store | undefined

afterEach(async () => {
  await store?.close()
  store = undefined
  rmSync(dir, { recursive: true, force: true })
})

/** The data dir's database, migrated, with its synchronous repositories and the Store over the same connection. */
function open() {
  dir = mkdtempSync(join(tmpdir(), 'mlc-store-'))
  const path = databasePath(dir)
  const db = openDatabase(path)
  migrate(db)
  store = sqliteStoreOver(db, path)
  return { db, repos: createSqliteRepos(db), store }
}

test('every statement of every repository compiles against the migrated schema', () => {
  const { repos } = open()
  // Lazy preparation would otherwise hide a typo until the first request that runs that SQL.
  expect(() => repos.prepareAll()).not.toThrow()
})

test('the store offers every repository method of the engine, each answering a promise', async () => {
  const { repos, store } = open()
  const { db: _db, prepareAll: _prepareAll, transaction: _transaction, withBusyTimeout: _busy, close: _close, ...tables } = repos
  // Left out on purpose: the auth cache's local epoch is store.localChanges(); the worker's transaction is recordAndClaim.
  const replaced: Record<string, string[]> = { meta: ['localBumps'], webhooks: ['transaction'] }
  for (const [name, repo] of Object.entries(tables)) {
    const offered = (store as unknown as Record<string, Record<string, unknown>>)[name]
    expect(offered).toBeDefined()
    const methods = Object.keys(repo).filter((m) => !replaced[name]?.includes(m))
    expect(Object.keys(offered as object).sort()).toEqual(methods.sort())
  }
  const site = store.sites.insert('s', 'free', null, 'pk_test', 0)
  expect(site).toBeInstanceOf(Promise)
  expect((await site).name).toBe('s')
  expect(store.localChanges()).toBe(0)
  await store.meta.bump('auth_epoch')
  expect(store.localChanges()).toBe(1)
})

test('lazy statements prepare on first use and answer like prepared ones', () => {
  dir = mkdtempSync(join(tmpdir(), 'mlc-store-'))
  const db = new Database(':memory:', { strict: true })
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  const lazy = withLazyStatements(db)
  const insert = lazy.query<{ id: number }, [string]>('INSERT INTO t (v) VALUES (?) RETURNING id')
  const broken = lazy.query('SELEC v FROM t')
  expect(insert.get('a')).toEqual({ id: 1 })
  expect(insert.run('b').changes).toBe(1)
  expect(lazy.query<{ v: string }, []>('SELECT v FROM t ORDER BY id').all()).toEqual([{ v: 'a' }, { v: 'b' }])
  // Declaring the typo did not throw; using it, or preparing everything, does.
  expect(() => broken.get()).toThrow(/syntax error/)
  expect(() => lazy.prepareAll()).toThrow(/syntax error/)
  // Everything else is the database itself.
  expect(lazy.inTransaction).toBe(false)
  lazy.exec('DELETE FROM t')
  expect(db.query('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 })
  db.close()
})
