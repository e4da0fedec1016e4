/** The site-identity repository: PostgreSQL answers what SQLite answers. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createPostgresSiteIdentityRepo } from '../../../src/db/postgres/site-identity'
import { createPostgresSiteRepo } from '../../../src/db/postgres/sites'
import { asAsync, type Engines, openEngines, sameOnBoth } from './engines'
import { TEST_DATABASE_URL } from './harness'

describe.skipIf(!TEST_DATABASE_URL)('site identity on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await openEngines()
    for (const sites of [asAsync(e.sqlite.sites), createPostgresSiteRepo(e.pg)]) {
      await sites.insert('one', 'free', null, 'pk_one', 1000)
      await sites.insert('two', 'pro', 600, 'pk_two', 1000)
    }
  })
  afterAll(() => e?.close())

  test('get, setRequired, setSecret, unknown site, the other site untouched', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(asAsync(e.sqlite.siteIdentity), createPostgresSiteIdentityRepo(e.pg), async (identity) => [
      // A new site: not required, no secret (null, not undefined or '').
      await identity.get(1),
      await identity.get(99),
      await identity.setRequired(1, true),
      await identity.setRequired(1, true),
      await identity.setSecret(1, 'whsec_ünïcode_秘密'),
      await identity.get(1),
      await identity.get(2),
      await identity.setSecret(1, ''),
      await identity.setRequired(1, false),
      await identity.get(1),
      await identity.setRequired(99, true),
      await identity.setSecret(99, 'x'),
      await identity.get(2),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[0]).toEqual({ id: 1, publishable_key: 'pk_one', identity_required: 0, identity_secret: null })
    expect(fromPg[5]).toEqual({ id: 1, publishable_key: 'pk_one', identity_required: 1, identity_secret: 'whsec_ünïcode_秘密' })
    expect(fromPg[10]).toBeNull()
  })
})
