/**
 * Indexes for pruning the webhook history: old events by age, and an event's deliveries (the
 * ON DELETE CASCADE from events to deliveries would otherwise scan every delivery per event).
 */
export default {
  version: 6,
  name: 'webhook-retention',
  sqlite: `
    CREATE INDEX webhook_events_created ON webhook_events(created_ms);
    CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id);
  `,
  postgres: `
    CREATE INDEX webhook_events_created ON webhook_events(created_ms);
    CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id);
  `,
}
