/** The store: repositories prepare their statements on first use, and all of their SQL compiles. */

import { Database } from 'bun:sqlite'
import { afterEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withLazyStatements } from '../../src/db/lazy-statements'
import { openStore, type Store } from '../../src/db/store'

let dir: string
let store: Store | undefined

afterEach(() => {
  store?.close()
  rmSync(dir, { recursive: true, force: true })
})

test('every statement of every repository compiles against the migrated schema', () => {
  dir = mkdtempSync(join(tmpdir(), 'mlc-store-'))
  store = openStore(dir)
  // Lazy preparation would otherwise hide a typo until the first request that runs that SQL.
  expect(() => store?.prepareAll()).not.toThrow()
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
