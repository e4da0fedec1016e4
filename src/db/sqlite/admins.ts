/**
 * Dashboard admins, the sites each may see, their sessions and the one-time setup links.
 * Only hashes are stored: argon2id for passwords, SHA-256 for setup links.
 */
import type { Database } from 'bun:sqlite'

export interface AdminRow {
  id: number
  email: string
  password_hash: string
  /** 1: sees every site (the install's owner); 0: only the sites in admin_sites. */
  all_sites: number
  created_ms: number
  last_sign_in_ms: number | null
}

export interface AdminSessionRow {
  id: string
  admin_id: number
  created_ms: number
  expires_ms: number
  revoked_ms: number | null
  ip: string
  user_agent: string
}

/** Prepared statements over `admins`, `admin_sites`, `admin_sessions` and `admin_setup_links`. */
export function createAdminRepo(db: Database) {
  const insert = db.query<AdminRow, [string, string, number, number]>(
    'INSERT INTO admins (email, password_hash, all_sites, created_ms) VALUES (?, ?, ?, ?) RETURNING *',
  )
  const byId = db.query<AdminRow, [number]>('SELECT * FROM admins WHERE id = ?')
  const byEmail = db.query<AdminRow, [string]>('SELECT * FROM admins WHERE email = ?')
  const all = db.query<AdminRow, []>('SELECT * FROM admins ORDER BY id')
  const count = db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM admins')
  const signedIn = db.query<never, [number, number]>('UPDATE admins SET last_sign_in_ms = ? WHERE id = ?')
  const setPassword = db.query<never, [string, number]>('UPDATE admins SET password_hash = ? WHERE id = ?')
  const grant = db.query<never, [number, number]>('INSERT INTO admin_sites (admin_id, site_id) VALUES (?, ?) ON CONFLICT DO NOTHING')
  const sitesOf = db.query<{ site_id: number }, [number]>('SELECT site_id FROM admin_sites WHERE admin_id = ? ORDER BY site_id')

  const insertSession = db.query<AdminSessionRow, [string, number, number, number, string, string]>(
    'INSERT INTO admin_sessions (id, admin_id, created_ms, expires_ms, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
  )
  const sessionById = db.query<AdminSessionRow, [string]>('SELECT * FROM admin_sessions WHERE id = ?')
  const revokeSession = db.query<never, [number, string]>('UPDATE admin_sessions SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL')
  const dropExpired = db.query<never, [number]>('DELETE FROM admin_sessions WHERE expires_ms < ?')

  const insertLink = db.query<never, [string, number, number]>('INSERT INTO admin_setup_links (token_hash, created_ms, expires_ms) VALUES (?, ?, ?)')
  const liveLink = db.query<{ token_hash: string }, [string, number]>(
    'SELECT token_hash FROM admin_setup_links WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ?',
  )
  const useLink = db.query<{ token_hash: string }, [number, string, number]>(
    'UPDATE admin_setup_links SET used_ms = ? WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ? RETURNING token_hash',
  )

  return {
    /** Inserts an admin (email already normalized, password already hashed). */
    insert: (email: string, passwordHash: string, allSites: boolean, nowMs: number) => insert.get(email, passwordHash, allSites ? 1 : 0, nowMs) as AdminRow,
    /** One admin, or null. */
    byId: (id: number) => byId.get(id),
    /** The admin with this (lower-cased) email, or null. */
    byEmail: (email: string) => byEmail.get(email),
    /** Every admin by id. */
    list: () => all.all(),
    /** How many admins exist. */
    count: () => count.get()?.n ?? 0,
    /** Records a successful sign-in. */
    markSignedIn: (id: number, nowMs: number) => {
      signedIn.run(nowMs, id)
    },
    /** Replaces an admin's password hash. */
    setPasswordHash: (id: number, hash: string) => {
      setPassword.run(hash, id)
    },
    /** Lets an admin see a site. */
    grantSite: (adminId: number, siteId: number) => {
      grant.run(adminId, siteId)
    },
    /** Ids of the sites granted to an admin (ignores all_sites). */
    siteIds: (adminId: number) => sitesOf.all(adminId).map((r) => r.site_id),
    /** Stores a new session. */
    insertSession: (id: string, adminId: number, nowMs: number, expiresMs: number, ip: string, userAgent: string) =>
      insertSession.get(id, adminId, nowMs, expiresMs, ip, userAgent) as AdminSessionRow,
    /** A session by id, revoked or not. */
    sessionById: (id: string) => sessionById.get(id),
    /** Marks a session signed out. */
    revokeSession: (id: string, nowMs: number) => {
      revokeSession.run(nowMs, id)
    },
    /** Forgets sessions that expired before `nowMs`. */
    dropExpiredSessions: (nowMs: number) => {
      dropExpired.run(nowMs)
    },
    /** Stores a setup link's hash. */
    insertSetupLink: (hash: string, nowMs: number, expiresMs: number) => {
      insertLink.run(hash, nowMs, expiresMs)
    },
    /** True when the link is unused and not expired. */
    setupLinkLive: (hash: string, nowMs: number) => liveLink.get(hash, nowMs) !== null,
    /** Marks a live link used; false when it was unknown, used or expired. */
    useSetupLink: (hash: string, nowMs: number) => useLink.get(nowMs, hash, nowMs) !== null,
  }
}
export type AdminRepo = ReturnType<typeof createAdminRepo>
