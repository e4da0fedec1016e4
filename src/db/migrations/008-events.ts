/**
 * The event feed (`GET /v1/events`): every event is now stored, with or without a subscription
 * that wants it, and listed per site newest (or oldest) first.
 *
 * - `(site_id, created_ms, id)` and `(site_id, type, created_ms, id)` serve the list, its `type`
 *   filter and its keyset cursor without a sort. On PostgreSQL `id` is compared in the "C"
 *   collation, byte order as in SQLite: ids are hex, and a locale's order must not move a cursor.
 * - `visitor_key` is the visitor an event is about (its body's `visitor.key`), so erasing a visitor
 *   finds their events through an index instead of reading every body. Events written before this
 *   migration get it from their body.
 * - Retention now prunes finished deliveries by their own age (MLC_WEBHOOK_RETENTION_DAYS,
 *   `webhook_deliveries(created_ms, seq)`) and events on their own (MLC_EVENT_RETENTION_DAYS): old
 *   events are walked in `(created_ms, id)` order with a keyset, so the events index of 006 gains
 *   `id` (events a longer delivery history still keeps are stepped over, not read again per batch).
 */
export default {
  version: 8,
  name: 'events',
  sqlite: `
    ALTER TABLE webhook_events ADD COLUMN visitor_key TEXT;
    UPDATE webhook_events SET visitor_key = json_extract(body, '$.visitor.key') WHERE body LIKE '%"visitor":{%' AND json_valid(body);
    CREATE INDEX webhook_events_site_created ON webhook_events(site_id, created_ms, id);
    CREATE INDEX webhook_events_site_type ON webhook_events(site_id, type, created_ms, id);
    CREATE INDEX webhook_events_visitor ON webhook_events(site_id, visitor_key) WHERE visitor_key IS NOT NULL;
    DROP INDEX webhook_events_created;
    CREATE INDEX webhook_events_created ON webhook_events(created_ms, id);
    CREATE INDEX webhook_deliveries_created ON webhook_deliveries(created_ms, seq);
  `,
  postgres: `
    ALTER TABLE webhook_events ADD COLUMN visitor_key TEXT;
    UPDATE webhook_events SET visitor_key = (body::jsonb) -> 'visitor' ->> 'key' WHERE body LIKE '%"visitor":{%';
    CREATE INDEX webhook_events_site_created ON webhook_events(site_id, created_ms, id COLLATE "C");
    CREATE INDEX webhook_events_site_type ON webhook_events(site_id, type, created_ms, id COLLATE "C");
    CREATE INDEX webhook_events_visitor ON webhook_events(site_id, visitor_key) WHERE visitor_key IS NOT NULL;
    DROP INDEX webhook_events_created;
    CREATE INDEX webhook_events_created ON webhook_events(created_ms, id COLLATE "C");
    CREATE INDEX webhook_deliveries_created ON webhook_deliveries(created_ms, seq);
  `,
}
