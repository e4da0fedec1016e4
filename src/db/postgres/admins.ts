/**
 * Dashboard admins, their sites, sessions and one-time setup links on PostgreSQL: the same rows
 * and answers as the SQLite repo. Only hashes are stored.
 */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { AdminRepo, AdminRow, AdminSessionRow } from '../rows'
import { allRows, bigintColumns, firstOrNull } from './rows'

// all_sites is an INTEGER (0/1) on both engines, so it arrives as a number already.
const admin = bigintColumns<AdminRow>('id', 'created_ms', 'last_sign_in_ms')
const session = bigintColumns<AdminSessionRow>('admin_id', 'created_ms', 'expires_ms', 'revoked_ms')

/** Statements over `admins`, `admin_sites`, `admin_sessions` and `admin_setup_links`. */
export function createPostgresAdminRepo(sql: SQL): AsyncRepo<AdminRepo> {
  return {
    insert: async (email, passwordHash, allSites, nowMs) =>
      admin(
        (
          await sql`INSERT INTO admins (email, password_hash, all_sites, created_ms)
                    VALUES (${email}, ${passwordHash}, ${allSites ? 1 : 0}, ${nowMs}) RETURNING *`
        )[0],
      ),
    byId: async (id) => firstOrNull(await sql`SELECT * FROM admins WHERE id = ${id}`, admin),
    // Exact match, as SQLite's BINARY `=`: the service lower-cases emails before both writing and reading.
    byEmail: async (email) => firstOrNull(await sql`SELECT * FROM admins WHERE email = ${email}`, admin),
    list: async () => allRows(await sql`SELECT * FROM admins ORDER BY id`, admin),
    count: async () => Number((await sql`SELECT COUNT(*) AS n FROM admins`)[0].n),
    markSignedIn: async (id, nowMs) => {
      await sql`UPDATE admins SET last_sign_in_ms = ${nowMs} WHERE id = ${id}`
    },
    setPasswordHash: async (id, hash) => {
      await sql`UPDATE admins SET password_hash = ${hash} WHERE id = ${id}`
    },
    grantSite: async (adminId, siteId) => {
      await sql`INSERT INTO admin_sites (admin_id, site_id) VALUES (${adminId}, ${siteId}) ON CONFLICT DO NOTHING`
    },
    siteIds: async (adminId) => {
      const rows: { site_id: string }[] = await sql`SELECT site_id FROM admin_sites WHERE admin_id = ${adminId} ORDER BY site_id`
      return rows.map((r) => Number(r.site_id))
    },
    insertSession: async (id, adminId, nowMs, expiresMs, ip, userAgent) =>
      session(
        (
          await sql`INSERT INTO admin_sessions (id, admin_id, created_ms, expires_ms, ip, user_agent)
                    VALUES (${id}, ${adminId}, ${nowMs}, ${expiresMs}, ${ip}, ${userAgent}) RETURNING *`
        )[0],
      ),
    sessionById: async (id) => firstOrNull(await sql`SELECT * FROM admin_sessions WHERE id = ${id}`, session),
    revokeSession: async (id, nowMs) => {
      await sql`UPDATE admin_sessions SET revoked_ms = ${nowMs} WHERE id = ${id} AND revoked_ms IS NULL`
    },
    dropExpiredSessions: async (nowMs) => {
      await sql`DELETE FROM admin_sessions WHERE expires_ms < ${nowMs}`
    },
    insertSetupLink: async (hash, nowMs, expiresMs) => {
      await sql`INSERT INTO admin_setup_links (token_hash, created_ms, expires_ms) VALUES (${hash}, ${nowMs}, ${expiresMs})`
    },
    setupLinkLive: async (hash, nowMs) =>
      (await sql`SELECT token_hash FROM admin_setup_links WHERE token_hash = ${hash} AND used_ms IS NULL AND expires_ms > ${nowMs}`).length > 0,
    // One statement: of two instances using the same link at once, exactly one sees its row updated.
    useSetupLink: async (hash, nowMs) =>
      (
        await sql`UPDATE admin_setup_links SET used_ms = ${nowMs}
                  WHERE token_hash = ${hash} AND used_ms IS NULL AND expires_ms > ${nowMs} RETURNING token_hash`
      ).length > 0,
  }
}
