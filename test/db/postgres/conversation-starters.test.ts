/** The conversation-starters repository: PostgreSQL answers what SQLite answers. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createPostgresStarterRepo } from '../../../src/db/postgres/conversation-starters'
import { createPostgresSiteRepo } from '../../../src/db/postgres/sites'
import { asAsync, type Engines, openEngines, sameOnBoth } from './engines'
import { TEST_DATABASE_URL } from './harness'

const T0 = 1_700_000_000_000

describe.skipIf(!TEST_DATABASE_URL)('conversation starters on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await openEngines()
    for (const sites of [asAsync(e.sqlite.sites), createPostgresSiteRepo(e.pg)]) {
      await sites.insert('one', 'free', null, 'pk_one', T0)
      await sites.insert('two', 'free', null, 'pk_two', T0)
    }
  })
  afterAll(() => e?.close())

  test('insert, list (all and enabled, position ties by id), get, maxPosition, update, remove, other site', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.starters), createPostgresStarterRepo(e.pg), async (starters) => [
      await starters.maxPosition(1),
      await starters.list(1, true),
      await starters.insert(1, 'How do I reset my password?', 2, true, T0),
      await starters.insert(1, 'Talk to sales', 0, true, T0 + 1),
      // Position ties: id decides.
      await starters.insert(1, 'Où est ma commande ? 📦', 2, false, T0 + 2),
      await starters.insert(1, 'Pricing', 2, true, T0 + 3),
      await starters.insert(2, 'Other site', 0, true, T0 + 4),
      await starters.insert(1, 'Last', 1_000_000, true, T0 + 5),
      await starters.list(1, true),
      await starters.list(1, false),
      await starters.list(2, true),
      await starters.list(3, true),
      await starters.maxPosition(1),
      await starters.maxPosition(2),
      await starters.maxPosition(3),
      await starters.get(1, 3),
      await starters.get(2, 3),
      await starters.get(1, 99),
      await starters.update(1, 3, 'Où est ma commande ?', 0, true),
      await starters.update(2, 1, 'not mine', 0, false),
      await starters.update(1, 99, 'none', 0, false),
      await starters.list(1, false),
      await starters.remove(2, 2),
      await starters.remove(1, 2),
      await starters.remove(1, 2),
      await starters.list(1, true),
      await starters.update(1, 6, 'Off', 5, false),
      await starters.list(1, false),
      await starters.maxPosition(1),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect((fromPg[9] as { id: number }[]).map((s) => s.id)).toEqual([2, 1, 4, 6])
    expect(fromPg[2]).toEqual({ id: 1, site_id: 1, prompt: 'How do I reset my password?', position: 2, enabled: 1, created_ms: T0 })
  })
})
