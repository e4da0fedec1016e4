/**
 * Idempotency keys (Stripe's semantics, see src/http/idempotency.ts): one row per (site, credential
 * scope, key). The row is the in-flight claim while `response_status` is NULL, so a second
 * request, on this instance or another on the same database, finds it through the primary key;
 * once answered it holds the stored response for MLC_IDEMPOTENCY_TTL. `created_ms` is when the
 * key was first used: the lease of a claim and the key's expiry both count from it, and the prune
 * job deletes by it.
 */
export default {
  version: 7,
  name: 'idempotency',
  sqlite: `
    CREATE TABLE idempotency_keys (
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      scope TEXT NOT NULL,
      key TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      request_id TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      response_status INTEGER,
      response_type TEXT,
      response_body TEXT,
      PRIMARY KEY (site_id, scope, key)
    ) WITHOUT ROWID;
    CREATE INDEX idempotency_keys_created ON idempotency_keys(created_ms);
  `,
  postgres: `
    CREATE TABLE idempotency_keys (
      site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      scope TEXT NOT NULL,
      key TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      request_id TEXT NOT NULL,
      created_ms BIGINT NOT NULL,
      response_status INTEGER,
      response_type TEXT,
      response_body TEXT,
      PRIMARY KEY (site_id, scope, key)
    );
    CREATE INDEX idempotency_keys_created ON idempotency_keys(created_ms);
  `,
}
