/**
 * The /readyz write probe on both engines: a write that commits answers null and leaves the same
 * meta row; a lock held elsewhere, a read-only database and (PostgreSQL) a server that does not
 * answer come back as codes that `storageProblem` names alike for the operator. The codes
 * themselves differ by nature (SQLITE_BUSY against SQLSTATE 55P03).
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { openPostgres } from '../../../src/db/postgres/connection'
import { createPostgresHealthRepo, storageProblem as pgProblem } from '../../../src/db/postgres/health'
import { createPostgresMetaRepo } from '../../../src/db/postgres/meta'
import { createHealthRepo, storageProblem as sqliteProblem } from '../../../src/db/sqlite/health'
import { openDatabase } from '../../../src/db/sqlite/open'
import { asAsync, type Engines, openEngines, sameOnBoth } from './engines'
import { TEST_DATABASE_URL } from './harness'

const T0 = 1_700_000_000_000

describe('PostgreSQL storage problems named for the operator', () => {
  test.each([
    ['53100', 'disk full'],
    ['53200', 'out of memory'],
    ['53300', 'too many connections'],
    ['55P03', 'locked by another connection'],
    ['40P01', 'locked by another connection'],
    ['25006', 'read-only'],
    ['57014', 'timed out'],
    ['57P01', 'server shutting down or starting up'],
    ['57P03', 'server shutting down or starting up'],
    ['08006', 'cannot connect'],
    ['ERR_POSTGRES_CONNECTION_REFUSED', 'cannot connect'],
    ['ERR_POSTGRES_CONNECTION_CLOSED', 'cannot connect'],
    ['58030', 'I/O error'],
    ['XX001', 'damaged'],
    ['42P01', 'error'],
  ])('%s is %s', (code, words) => {
    expect(pgProblem(code)).toBe(words)
  })
})

describe.skipIf(!TEST_DATABASE_URL)('the write probe on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await openEngines()
  })
  afterAll(() => e?.close())

  test('a write that commits answers null and leaves the probe row', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.health), createPostgresHealthRepo(e.pg), async (health) => [
      await health.probeWrite(T0, 0),
      await health.probeWrite(T0 + 1, 250),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg).toEqual([null, null])
    expect(e.sqlite.meta.get('ready_probe_ms')).toBe(String(T0 + 1))
    expect(await createPostgresMetaRepo(e.pg).get('ready_probe_ms')).toBe(String(T0 + 1))
  })

  test('a lock held elsewhere: not waited for past timeoutMs, named alike', async () => {
    // SQLite: another connection holds the write lock.
    const other = new Database(e.sqlite.db.filename)
    other.exec('PRAGMA busy_timeout = 0')
    other.exec('BEGIN IMMEDIATE')
    const sqliteCode = e.sqlite.health.probeWrite(T0 + 2, 0)
    other.exec('ROLLBACK')
    other.close()
    // PostgreSQL: another session holds the probe row's lock.
    let release = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let locked = () => {}
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve
    })
    const holder = e.pg.begin(async (tx) => {
      await tx`SELECT value FROM meta WHERE key = 'ready_probe_ms' FOR UPDATE`
      locked()
      await held
    })
    await isLocked
    const pg = createPostgresHealthRepo(e.pg)
    const started = performance.now()
    const pgCode = await pg.probeWrite(T0 + 2, 0)
    const waitedMs = performance.now() - started
    // A longer allowance outlasts a holder that lets go within it.
    const waiting = pg.probeWrite(T0 + 3, 5000)
    setTimeout(() => release(), 50)
    const afterRelease = await waiting
    await holder
    expect(sqliteCode).toStartWith('SQLITE_BUSY')
    expect(pgCode).toBe('55P03')
    expect(pgProblem(pgCode as string)).toBe(sqliteProblem(sqliteCode as string))
    expect(waitedMs).toBeLessThan(1000)
    expect(afterRelease).toBeNull()
    expect(await createPostgresMetaRepo(e.pg).get('ready_probe_ms')).toBe(String(T0 + 3))
  })

  test('a read-only database is named alike', async () => {
    const ro = openDatabase(e.sqlite.db.filename, { readonly: true })
    const sqliteCode = createHealthRepo(ro).probeWrite(T0, 0)
    ro.close()
    // PostgreSQL: a session whose transactions are read-only, as on a standby after a failover.
    const reserved = await e.pg.reserve()
    await reserved`SET default_transaction_read_only = on`
    const pgCode = await createPostgresHealthRepo(reserved).probeWrite(T0, 0)
    await reserved`RESET default_transaction_read_only`
    reserved.release()
    expect(pgCode).toBe('25006')
    expect(pgProblem(pgCode as string)).toBe(sqliteProblem(sqliteCode as string))
    expect(pgProblem(pgCode as string)).toBe('read-only')
    // The row written before is still there on both.
    expect(e.sqlite.meta.get('ready_probe_ms')).not.toBeNull()
    expect(await createPostgresMetaRepo(e.pg).get('ready_probe_ms')).not.toBeNull()
  })

  test('a server that does not answer is "cannot connect"', async () => {
    const url = new URL(TEST_DATABASE_URL as string)
    url.port = '1' // nothing listens on port 1 of loopback
    const down = openPostgres({ url: url.toString(), poolSize: 1, statementTimeoutMs: 1000, prepare: false })
    const code = await createPostgresHealthRepo(down).probeWrite(T0, 0)
    await down.close()
    expect(code).toStartWith('ERR_POSTGRES_CONNECTION')
    expect(pgProblem(code as string)).toBe('cannot connect')
  })
})
