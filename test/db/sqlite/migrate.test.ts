/** Numbered migrations: applied once each, gaps filled, newer schemas refused. */
import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import { SchemaTooNewError } from '../../../src/db/errors'
import { migrate } from '../../../src/db/sqlite/migrate'

const m = (version: number) => ({
  version,
  name: `m${version}`,
  sqlite: `CREATE TABLE t${version} (x INTEGER);`,
  postgres: `CREATE TABLE t${version} (x INTEGER);`,
})

describe('migrate', () => {
  test('applies each migration once', () => {
    const db = new Database(':memory:')
    expect(migrate(db, [m(1), m(2)])).toEqual([1, 2])
    expect(migrate(db, [m(1), m(2)])).toEqual([])
    expect(migrate(db, [m(1), m(2), m(3)])).toEqual([3])
  })

  test('fills a lower number that was added after a higher one ran', () => {
    const db = new Database(':memory:')
    migrate(db, [m(1), m(3)])
    expect(migrate(db, [m(1), m(2), m(3)])).toEqual([2])
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 't2'").get()).toBeTruthy()
  })

  test('refuses a schema newer than the binary and changes nothing', () => {
    const db = new Database(':memory:')
    migrate(db, [m(1), m(2)])
    expect(() => migrate(db, [m(1)])).toThrow(SchemaTooNewError)
    expect(db.query('SELECT COUNT(*) AS n FROM schema_migrations').get()).toEqual({ n: 2 })
  })

  test('an upgrade lands whole or not at all: a failing migration leaves the schema as it was', () => {
    const db = new Database(':memory:')
    migrate(db, [m(1)])
    const broken = { version: 3, name: 'broken', sqlite: 'CREATE TABLE t3 (x INTEGER); CREATE TABLE t1 (y INTEGER);', postgres: '' }
    expect(() => migrate(db, [m(1), m(2), broken])).toThrow(/already exists/)
    expect(db.query('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual([{ version: 1 }])
    expect(db.query("SELECT name FROM sqlite_master WHERE name IN ('t2', 't3')").all()).toEqual([])
    expect(migrate(db, [m(1), m(2)])).toEqual([2])
  })
})
