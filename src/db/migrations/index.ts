/**
 * Every migration, in order. Each is a numbered file with plain SQL per engine; the list is code so the
 * compiled binary carries them. Never edit a shipped migration: add the next number.
 */
import core from './001-core'
import visitors from './002-visitors'
import webhooks from './003-webhooks'
import chat from './004-chat'
import dashboard from './005-dashboard'
import webhookRetention from './006-webhook-retention'
import idempotency from './007-idempotency'
import events from './008-events'

/** One schema version, with its SQL for each engine (the same tables, columns and indexes). */
export interface Migration {
  version: number
  name: string
  /** SQL for the embedded SQLite engine. */
  sqlite: string
  /** SQL for PostgreSQL: the same schema (identity ids, BIGINT times, tsvector search in place of FTS5). */
  postgres: string
}

export const MIGRATIONS: Migration[] = [core, visitors, webhooks, chat, dashboard, webhookRetention, idempotency, events]
