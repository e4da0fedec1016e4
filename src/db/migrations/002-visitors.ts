/**
 * Visitors with their custom attributes, tracked events, segments with memberships, conversation
 * starters, and the site's identity-verification settings.
 */
export default {
  version: 2,
  name: 'visitors',
  sql: `
    CREATE TABLE visitors (
      id INTEGER PRIMARY KEY,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      email TEXT,
      name TEXT,
      attributes TEXT NOT NULL DEFAULT '{}',
      event_count INTEGER NOT NULL DEFAULT 0,
      first_seen_ms INTEGER NOT NULL,
      last_seen_ms INTEGER NOT NULL,
      updated_ms INTEGER NOT NULL,
      UNIQUE (site_id, key)
    );
    CREATE INDEX visitors_activity ON visitors(site_id, last_seen_ms, id);
    -- Only visitors with an email are indexed (most tracked visitors have none), case-insensitively.
    CREATE INDEX visitors_email ON visitors(site_id, lower(email)) WHERE email IS NOT NULL;
    CREATE TABLE visitor_events (
      id INTEGER PRIMARY KEY,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      visitor_id INTEGER NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      properties TEXT NOT NULL DEFAULT '{}',
      event_id TEXT,
      occurred_ms INTEGER NOT NULL,
      received_ms INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX visitor_events_event_id ON visitor_events(site_id, event_id) WHERE event_id IS NOT NULL;
    CREATE INDEX visitor_events_recent ON visitor_events(visitor_id, occurred_ms);
    CREATE INDEX visitor_events_name ON visitor_events(visitor_id, name, occurred_ms);
    CREATE TABLE segments (
      id INTEGER PRIMARY KEY,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      rule TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      updated_ms INTEGER NOT NULL,
      UNIQUE (site_id, name)
    );
    CREATE TABLE segment_members (
      segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
      visitor_id INTEGER NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
      entered_ms INTEGER NOT NULL,
      PRIMARY KEY (segment_id, visitor_id)
    );
    CREATE INDEX segment_members_visitor ON segment_members(visitor_id);
    CREATE TABLE conversation_starters (
      id INTEGER PRIMARY KEY,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      prompt TEXT NOT NULL,
      position INTEGER NOT NULL,
      enabled INTEGER NOT NULL DEFAULT 1,
      created_ms INTEGER NOT NULL
    );
    CREATE INDEX conversation_starters_site ON conversation_starters(site_id, position);
    ALTER TABLE sites ADD COLUMN identity_required INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sites ADD COLUMN identity_secret TEXT;
  `,
}
