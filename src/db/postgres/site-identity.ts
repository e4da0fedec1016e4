/** A site's identity-verification settings (columns of `sites`) on PostgreSQL: the same answers as the SQLite repo. */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { SiteIdentityRepo, SiteIdentityRow } from '../rows'
import { bigintColumns, firstOrNull } from './rows'

// identity_required is an INTEGER (0/1) on both engines, so it arrives as a number already.
const identity = bigintColumns<SiteIdentityRow>('id')

/** Statements over the identity columns of `sites`. */
export function createPostgresSiteIdentityRepo(sql: SQL): AsyncRepo<SiteIdentityRepo> {
  return {
    get: async (siteId) => firstOrNull(await sql`SELECT id, publishable_key, identity_required, identity_secret FROM sites WHERE id = ${siteId}`, identity),
    setRequired: async (siteId, required) =>
      firstOrNull(
        await sql`UPDATE sites SET identity_required = ${required ? 1 : 0} WHERE id = ${siteId}
                  RETURNING id, publishable_key, identity_required, identity_secret`,
        identity,
      ),
    setSecret: async (siteId, secret) =>
      firstOrNull(
        await sql`UPDATE sites SET identity_secret = ${secret} WHERE id = ${siteId}
                  RETURNING id, publishable_key, identity_required, identity_secret`,
        identity,
      ),
  }
}
