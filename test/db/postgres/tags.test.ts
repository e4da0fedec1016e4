/** The tags repository: PostgreSQL answers what SQLite answers. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createPostgresTagRepo } from '../../../src/db/postgres/tags'
import { asAsync, type Engines, openEngines, sameOnBoth, seedTwoSites } from './engines'
import { TEST_DATABASE_URL } from './harness'

describe.skipIf(!TEST_DATABASE_URL)('tags on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await openEngines()
    await seedTwoSites(e)
  })
  afterAll(() => e?.close())

  test('insert, list, get, byName, update, remove, other site', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.tags), createPostgresTagRepo(e.pg), async (tags) => [
      await tags.insert(1, 'billing', '#2563eb', 1700000000000),
      await tags.insert(1, 'sales', '#000000', 1700000000001),
      await tags.insert(2, 'billing', '#111111', 1700000000002),
      await tags.list(1),
      await tags.get(1, 2),
      await tags.get(2, 2),
      await tags.byName(1, 'sales'),
      await tags.byName(1, 'nope'),
      await tags.update(1, 1, 'billing2', '#ffffff'),
      await tags.update(2, 1, 'x', '#ffffff'),
      await tags.remove(2, 1),
      await tags.remove(1, 1),
      await tags.list(1),
      await tags.list(3),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect((fromPg[0] as { id: number }).id).toBe(1)
  })
})
