/**
 * Dashboard accounts: admins (argon2id hashes), which sites each may see, signed-in sessions (the
 * server-side half of the session JWT, so signing out revokes it), and one-time setup links.
 */
export default {
  version: 5,
  name: 'dashboard',
  sql: `
    CREATE TABLE admins (
      id INTEGER PRIMARY KEY,
      email TEXT NOT NULL UNIQUE,
      password_hash TEXT NOT NULL,
      all_sites INTEGER NOT NULL DEFAULT 0,
      created_ms INTEGER NOT NULL,
      last_sign_in_ms INTEGER
    );
    CREATE TABLE admin_sites (
      admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      PRIMARY KEY (admin_id, site_id)
    );
    CREATE TABLE admin_sessions (
      id TEXT PRIMARY KEY,
      admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
      created_ms INTEGER NOT NULL,
      expires_ms INTEGER NOT NULL,
      revoked_ms INTEGER,
      ip TEXT NOT NULL,
      user_agent TEXT NOT NULL
    );
    CREATE INDEX admin_sessions_admin ON admin_sessions(admin_id);
    CREATE TABLE admin_setup_links (
      token_hash TEXT PRIMARY KEY,
      created_ms INTEGER NOT NULL,
      expires_ms INTEGER NOT NULL,
      used_ms INTEGER
    );
  `,
}
