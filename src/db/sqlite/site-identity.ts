/** A site's identity-verification settings (columns of `sites` added by migration 002). */
import type { Database } from 'bun:sqlite'

export interface SiteIdentityRow {
  id: number
  publishable_key: string
  identity_required: number
  identity_secret: string | null
}

/** Prepared statements over the identity columns of `sites`. */
export function createSiteIdentityRepo(db: Database) {
  const get = db.query<SiteIdentityRow, [number]>('SELECT id, publishable_key, identity_required, identity_secret FROM sites WHERE id = ?')
  const setRequired = db.query<SiteIdentityRow, [number, number]>(
    'UPDATE sites SET identity_required = ? WHERE id = ? RETURNING id, publishable_key, identity_required, identity_secret',
  )
  const setSecret = db.query<SiteIdentityRow, [string, number]>(
    'UPDATE sites SET identity_secret = ? WHERE id = ? RETURNING id, publishable_key, identity_required, identity_secret',
  )
  return {
    /** The site's identity settings, or null when there is no such site. */
    get: (siteId: number) => get.get(siteId),
    /** Turns identity verification on or off; null when there is no such site. */
    setRequired: (siteId: number, required: boolean) => setRequired.get(required ? 1 : 0, siteId),
    /** Stores a new identity secret; null when there is no such site. */
    setSecret: (siteId: number, secret: string) => setSecret.get(secret, siteId),
  }
}
export type SiteIdentityRepo = ReturnType<typeof createSiteIdentityRepo>
