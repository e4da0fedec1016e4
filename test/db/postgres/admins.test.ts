/** The admins repository: PostgreSQL answers what SQLite answers (admins, grants, sessions, setup links). */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createPostgresAdminRepo } from '../../../src/db/postgres/admins'
import { createPostgresSiteRepo } from '../../../src/db/postgres/sites'
import { asAsync, type Engines, openEngines, sameOnBoth } from './engines'
import { TEST_DATABASE_URL } from './harness'

const T0 = 1_700_000_000_000
const HOUR = 3_600_000

/** What a promise settled to, so a step that throws on both engines compares as a step. */
async function settled(p: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await p }
  } catch {
    return 'threw'
  }
}

describe.skipIf(!TEST_DATABASE_URL)('admins on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await openEngines()
    for (const sites of [asAsync(e.sqlite.sites), createPostgresSiteRepo(e.pg)]) {
      for (const n of ['one', 'two', 'three']) await sites.insert(n, 'free', null, `pk_${n}`, T0)
    }
  })
  afterAll(() => e?.close())

  test('admins: insert, byId, byEmail, list, count, markSignedIn, setPasswordHash, grants', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.admins), createPostgresAdminRepo(e.pg), async (admins) => [
      await admins.count(),
      await admins.list(),
      await admins.insert('owner@example.com', '$argon2id$v=19$owner', true, T0),
      await admins.insert('zoë@exämple.com', '$argon2id$v=19$zoe', false, T0 + 1),
      await admins.insert('agent@example.com', '$argon2id$v=19$agent', false, T0 + 2),
      await admins.count(),
      await admins.list(),
      await admins.byId(2),
      await admins.byId(99),
      await admins.byEmail('zoë@exämple.com'),
      // Emails match exactly on both engines; the service lower-cases them first.
      await admins.byEmail('OWNER@example.com'),
      await admins.byEmail('nobody@example.com'),
      await admins.markSignedIn(2, T0 + HOUR),
      await admins.markSignedIn(99, T0 + HOUR),
      await admins.setPasswordHash(3, '$argon2id$v=19$agent2'),
      await admins.setPasswordHash(99, 'x'),
      await admins.byId(2),
      await admins.byId(3),
      await admins.siteIds(2),
      await admins.grantSite(2, 3),
      await admins.grantSite(2, 1),
      await admins.grantSite(2, 3),
      await admins.grantSite(3, 2),
      await admins.siteIds(2),
      await admins.siteIds(3),
      await admins.siteIds(1),
      await admins.siteIds(99),
      // Unknown site or admin: the foreign key refuses on both engines.
      await settled(admins.grantSite(2, 99)),
      await settled(admins.grantSite(99, 1)),
      // The same email twice: the unique index refuses on both engines (kept last: a refused
      // insert consumes an identity value on PostgreSQL, so later ids would differ).
      await settled(admins.insert('owner@example.com', 'x', false, T0 + 3)),
      await admins.count(),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[23]).toEqual([1, 3])
    expect(fromPg[16]).toMatchObject({ id: 2, last_sign_in_ms: T0 + HOUR, all_sites: 0 })
    expect(fromPg[29]).toBe('threw')
  })

  test('sessions: insert, sessionById, revokeSession, dropExpiredSessions', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.admins), createPostgresAdminRepo(e.pg), async (admins) => [
      await admins.insertSession('sess_a', 1, T0, T0 + HOUR, '203.0.113.5', 'Mozilla/5.0 ✓'),
      await admins.insertSession('sess_b', 2, T0, T0 + 2 * HOUR, '::1', ''),
      await admins.insertSession('sess_c', 2, T0, T0 + 3 * HOUR, '198.51.100.7', 'curl/8'),
      await settled(admins.insertSession('sess_a', 2, T0, T0, 'x', 'dup id')),
      await settled(admins.insertSession('sess_z', 99, T0, T0, 'x', 'unknown admin')),
      await admins.sessionById('sess_a'),
      await admins.sessionById('SESS_A'),
      await admins.sessionById('nope'),
      await admins.revokeSession('sess_b', T0 + 10),
      await admins.revokeSession('sess_b', T0 + 20),
      await admins.revokeSession('nope', T0 + 30),
      await admins.sessionById('sess_b'),
      // Strictly before: a session expiring exactly now stays.
      await admins.dropExpiredSessions(T0 + HOUR),
      await admins.sessionById('sess_a'),
      await admins.dropExpiredSessions(T0 + 2 * HOUR + 1),
      await admins.sessionById('sess_a'),
      await admins.sessionById('sess_b'),
      await admins.sessionById('sess_c'),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[11]).toMatchObject({ id: 'sess_b', admin_id: 2, revoked_ms: T0 + 10 })
    expect(fromPg[13]).not.toBeNull()
    expect(fromPg[15]).toBeNull()
  })

  test('setup links: insertSetupLink, setupLinkLive, useSetupLink (once, before it expires)', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.admins), createPostgresAdminRepo(e.pg), async (admins) => [
      await admins.setupLinkLive('h1', T0),
      await admins.useSetupLink('h1', T0),
      await admins.insertSetupLink('h1', T0, T0 + HOUR),
      await admins.insertSetupLink('h2', T0, T0 + HOUR),
      await settled(admins.insertSetupLink('h1', T0, T0 + HOUR)),
      await admins.setupLinkLive('h1', T0 + 1),
      await admins.setupLinkLive('H1', T0 + 1),
      // Expiry is exclusive: at expires_ms the link is dead.
      await admins.setupLinkLive('h1', T0 + HOUR - 1),
      await admins.setupLinkLive('h1', T0 + HOUR),
      await admins.useSetupLink('h1', T0 + HOUR),
      await admins.useSetupLink('h1', T0 + 5),
      await admins.useSetupLink('h1', T0 + 6),
      await admins.setupLinkLive('h1', T0 + 7),
      await admins.setupLinkLive('h2', T0 + 7),
      await admins.useSetupLink('nope', T0),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg.slice(9, 12)).toEqual([false, true, false])
  })

  test('two instances using one setup link at once: exactly one succeeds', async () => {
    const a = createPostgresAdminRepo(e.pg)
    await a.insertSetupLink('race', T0, T0 + HOUR)
    const results = await Promise.all(Array.from({ length: 8 }, () => a.useSetupLink('race', T0 + 1)))
    expect(results.filter(Boolean)).toHaveLength(1)
  })
})
