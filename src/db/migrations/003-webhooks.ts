/**
 * Outbound webhooks: subscriptions, events (the exact body every delivery sends), deliveries
 * (the outbox rows the worker claims with a lease) and one row per attempt (the delivery log).
 */
export default {
  version: 3,
  name: 'webhooks',
  sql: `
    CREATE TABLE webhook_subscriptions (
      id INTEGER PRIMARY KEY,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      url TEXT NOT NULL,
      events TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      active INTEGER NOT NULL DEFAULT 1,
      disabled_reason TEXT,
      secret TEXT NOT NULL,
      previous_secret TEXT,
      previous_secret_until_ms INTEGER,
      created_ms INTEGER NOT NULL,
      updated_ms INTEGER NOT NULL
    );
    CREATE INDEX webhook_subscriptions_site ON webhook_subscriptions(site_id, id);
    CREATE TABLE webhook_events (
      id TEXT PRIMARY KEY,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      type TEXT NOT NULL,
      body TEXT NOT NULL,
      created_ms INTEGER NOT NULL
    );
    CREATE TABLE webhook_deliveries (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      subscription_id INTEGER NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
      event_id TEXT NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
      event TEXT NOT NULL,
      status TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_ms INTEGER,
      lease_until_ms INTEGER,
      last_attempt_ms INTEGER,
      last_status_code INTEGER,
      last_error TEXT,
      created_ms INTEGER NOT NULL,
      updated_ms INTEGER NOT NULL
    );
    -- Covering indexes for the claim scans (oldest due first, and per subscription), so neither reads the table.
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_ms, subscription_id, lease_until_ms) WHERE next_attempt_ms IS NOT NULL;
    CREATE INDEX webhook_deliveries_subscription_due ON webhook_deliveries(subscription_id, next_attempt_ms, lease_until_ms) WHERE next_attempt_ms IS NOT NULL;
    CREATE INDEX webhook_deliveries_leased ON webhook_deliveries(lease_until_ms) WHERE lease_until_ms IS NOT NULL;
    CREATE INDEX webhook_deliveries_site ON webhook_deliveries(site_id, seq);
    CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries(subscription_id, seq);
    CREATE TABLE webhook_attempts (
      id INTEGER PRIMARY KEY,
      delivery_seq INTEGER NOT NULL REFERENCES webhook_deliveries(seq) ON DELETE CASCADE,
      number INTEGER NOT NULL,
      url TEXT NOT NULL,
      at_ms INTEGER NOT NULL,
      duration_ms INTEGER NOT NULL,
      status_code INTEGER,
      error TEXT,
      error_message TEXT,
      request_headers TEXT NOT NULL,
      response_body TEXT
    );
    CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_seq, id);
  `,
}
