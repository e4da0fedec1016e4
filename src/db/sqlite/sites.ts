/** Sites: the tenants. Every other row belongs to one. */
import type { Database } from 'bun:sqlite'

export interface SiteRow {
  id: number
  name: string
  plan: string
  rate_limit: number | null
  publishable_key: string
  created_ms: number
}

/** Prepared statements over `sites`. */
export function createSiteRepo(db: Database) {
  const insert = db.query<SiteRow, [string, string, number | null, string, number]>(
    'INSERT INTO sites (name, plan, rate_limit, publishable_key, created_ms) VALUES (?, ?, ?, ?, ?) RETURNING *',
  )
  const byId = db.query<SiteRow, [number]>('SELECT * FROM sites WHERE id = ?')
  const byKey = db.query<SiteRow, [string]>('SELECT * FROM sites WHERE publishable_key = ?')
  const all = db.query<SiteRow, []>('SELECT * FROM sites ORDER BY id')
  const update = db.query<SiteRow, [string, number | null, string, number]>('UPDATE sites SET plan = ?, rate_limit = ?, name = ? WHERE id = ? RETURNING *')
  const count = db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM sites')
  return {
    /** Inserts a site. */
    insert: (name: string, plan: string, rateLimit: number | null, publishableKey: string, nowMs: number) =>
      insert.get(name, plan, rateLimit, publishableKey, nowMs) as SiteRow,
    /** The site with this id, or null. */
    byId: (id: number) => byId.get(id),
    /** The site owning a publishable key, or null. */
    byPublishableKey: (key: string) => byKey.get(key),
    /** All sites by id. */
    list: () => all.all(),
    /** Replaces the mutable fields; null when the site does not exist. */
    update: (id: number, fields: { name: string; plan: string; rate_limit: number | null }) => update.get(fields.plan, fields.rate_limit, fields.name, id),
    /** How many sites exist. */
    count: () => count.get()?.n ?? 0,
  }
}
export type SiteRepo = ReturnType<typeof createSiteRepo>
