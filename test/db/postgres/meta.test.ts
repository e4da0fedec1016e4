/** The meta repository: PostgreSQL answers what SQLite answers, including how `bump` reads odd values. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createPostgresMetaRepo, type LocalBumps } from '../../../src/db/postgres/meta'
import { asAsync, type Engines, openEngines, sameOnBoth } from './engines'
import { TEST_DATABASE_URL } from './harness'

describe.skipIf(!TEST_DATABASE_URL)('meta on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await openEngines()
  })
  afterAll(() => e?.close())

  test('get, set, bump, localBumps', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.meta), createPostgresMetaRepo(e.pg), async (meta) => [
      await meta.localBumps(),
      await meta.get('auth_epoch'),
      await meta.bump('auth_epoch'),
      await meta.get('auth_epoch'),
      await meta.bump('auth_epoch'),
      await meta.bump('auth_epoch'),
      await meta.get('auth_epoch'),
      await meta.localBumps(),
      await meta.set('session_secret', 'c2VjcmV0'),
      await meta.get('session_secret'),
      await meta.set('session_secret', 'replaced'),
      await meta.get('session_secret'),
      await meta.set('ünïcode ключ', '値 ✓'),
      await meta.get('ünïcode ключ'),
      await meta.set('empty', ''),
      await meta.get('empty'),
      await meta.get('EMPTY'),
      await meta.get('missing'),
      await meta.localBumps(),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[6]).toBe('3')
    expect(fromPg[7]).toBe(3)
  })

  test('bump reads a stored value as SQLite CAST(value AS INTEGER) does', async () => {
    // A key holding text that is not a plain integer: SQLite takes the leading integer (after
    // blanks, with a sign) and 0 when there is none; the PostgreSQL repo must not throw on it.
    const odd = ['abc', '41x', ' 7', '\t8', '+5', '-3', '1.9', '', '  ', '0x10', '1e3', '00012']
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.meta), createPostgresMetaRepo(e.pg), async (meta) => {
      const out: unknown[] = []
      for (const [i, value] of odd.entries()) {
        await meta.set(`odd_${i}`, value)
        await meta.bump(`odd_${i}`)
        out.push(await meta.get(`odd_${i}`))
      }
      return out
    })
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg).toEqual(['1', '42', '8', '9', '6', '-2', '2', '1', '1', '1', '2', '13'])
  })

  test('one LocalBumps counts the bumps of every repo built over it (pool and transaction)', async () => {
    const bumps: LocalBumps = { count: 0 }
    const pooled = createPostgresMetaRepo(e.pg, bumps)
    await pooled.bump('shared_epoch')
    await e.pg.begin(async (tx) => {
      const inTx = createPostgresMetaRepo(tx, bumps)
      await inTx.bump('shared_epoch')
      expect(await inTx.localBumps()).toBe(2)
    })
    expect(await pooled.localBumps()).toBe(2)
    expect(await pooled.get('shared_epoch')).toBe('2')
    // A repo without a shared counter starts its own.
    expect(await createPostgresMetaRepo(e.pg).localBumps()).toBe(0)
  })
})
