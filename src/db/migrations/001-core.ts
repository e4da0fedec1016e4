/** Sites, API tokens with their usage counters, rate-limit checkpoints, tags, and shared meta. */
export default {
  version: 1,
  name: 'core',
  sql: `
    CREATE TABLE meta (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );
    CREATE TABLE sites (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      plan TEXT NOT NULL DEFAULT 'free',
      rate_limit INTEGER,
      publishable_key TEXT NOT NULL UNIQUE,
      created_ms INTEGER NOT NULL
    );
    CREATE TABLE api_tokens (
      id INTEGER PRIMARY KEY,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      prefix TEXT NOT NULL,
      token_hash TEXT NOT NULL UNIQUE,
      scopes TEXT NOT NULL,
      request_count INTEGER NOT NULL DEFAULT 0,
      created_ms INTEGER NOT NULL,
      last_used_ms INTEGER,
      revoked_ms INTEGER
    );
    CREATE INDEX api_tokens_site ON api_tokens(site_id);
    CREATE TABLE token_daily_usage (
      token_id INTEGER NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
      day TEXT NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (token_id, day)
    );
    CREATE TABLE rate_buckets (
      key TEXT PRIMARY KEY,
      tokens REAL NOT NULL,
      updated_ms INTEGER NOT NULL
    );
    CREATE TABLE tags (
      id INTEGER PRIMARY KEY,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      color TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      UNIQUE (site_id, name)
    );
    -- Lists are read by site in id order: this index serves them without a sort.
    CREATE INDEX tags_site_id ON tags(site_id, id);
  `,
}
