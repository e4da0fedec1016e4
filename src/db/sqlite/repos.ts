/**
 * The SQLite engine's repositories: synchronous bun:sqlite statements over one open, migrated
 * database, built once. The store (./store.ts) hands them to services behind the async interface.
 */
import type { Database } from 'bun:sqlite'
import { createAdminRepo } from './admins'
import { withBusyTimeout } from './busy-timeout'
import { createChatRepo } from './chat'
import { createStarterRepo } from './conversation-starters'
import { createHealthRepo } from './health'
import { createIdempotencyRepo } from './idempotency'
import { createKbRepo } from './kb'
import { withLazyStatements } from './lazy-statements'
import { createMetaRepo } from './meta'
import { createRateBucketRepo } from './rate-buckets'
import { createSegmentRepo } from './segments'
import { createSiteIdentityRepo } from './site-identity'
import { createSiteRepo } from './sites'
import { createTagRepo } from './tags'
import { createTokenRepo } from './tokens'
import { createVisitorEventRepo } from './visitor-events'
import { createVisitorRepo } from './visitors'
import { createWebhookRepo } from './webhooks'

/** Builds every repository over an open, migrated database (statements are prepared on first use). */
export function createSqliteRepos(db: Database) {
  const lazy = withLazyStatements(db)
  return {
    db,
    /** Prepares every repository statement now (tests: proves all the SQL compiles). */
    prepareAll: () => lazy.prepareAll(),
    meta: createMetaRepo(lazy),
    sites: createSiteRepo(lazy),
    tokens: createTokenRepo(lazy),
    tags: createTagRepo(lazy),
    rateBuckets: createRateBucketRepo(lazy),
    health: createHealthRepo(lazy),
    webhooks: createWebhookRepo(lazy),
    admins: createAdminRepo(lazy),
    visitors: createVisitorRepo(lazy),
    visitorEvents: createVisitorEventRepo(lazy),
    segments: createSegmentRepo(lazy),
    starters: createStarterRepo(lazy),
    siteIdentity: createSiteIdentityRepo(lazy),
    kb: createKbRepo(lazy),
    chat: createChatRepo(lazy),
    idempotency: createIdempotencyRepo(lazy),
    /** Runs `fn` in one write transaction (BEGIN IMMEDIATE). */
    transaction<T>(fn: () => T): T {
      return db.transaction(fn).immediate()
    },
    /** Runs `fn` waiting at most `timeoutMs` for a lock another connection holds (see busy-timeout.ts). */
    withBusyTimeout<T>(timeoutMs: number, fn: () => T): T {
      return withBusyTimeout(db, timeoutMs, fn)
    },
    /** Closes the connection. */
    close() {
      db.close()
    },
  }
}
export type SqliteRepos = ReturnType<typeof createSqliteRepos>
