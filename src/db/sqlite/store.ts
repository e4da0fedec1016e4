/**
 * The embedded SQLite engine as a Store: the data dir's database, migrated, its synchronous
 * repositories behind the async interface (async-store.ts), the WAL checkpoint thread as its
 * upkeep. A second store over the same file (the webhook worker's thread, the CLI) is a second
 * connection: SQLite's file locks and WAL keep them consistent.
 */
import type { Database } from 'bun:sqlite'
import type { Store } from '../store'
import { createAsyncSqlite } from './async-store'
import { type Checkpointer, startCheckpointer } from './checkpointer'
import { migrate } from './migrate'
import { databasePath, openDatabase } from './open'
import { createSqliteRepos } from './repos'

export interface SqliteStoreOptions {
  /** How often the checkpoint thread runs (0: the writer checkpoints itself). */
  checkpointIntervalMs?: number
}

/** Opens (creating and migrating if needed) the database of a data dir as a Store. */
export function openSqliteStore(dataDir: string, opts: SqliteStoreOptions = {}): Store {
  const path = databasePath(dataDir)
  const db = openDatabase(path)
  let applied: number[]
  try {
    applied = migrate(db)
  } catch (err) {
    db.close()
    throw err
  }
  return sqliteStoreOver(db, path, applied, opts)
}

/** A Store over an open, migrated database (tests and the worker thread build one over their own connection). */
export function sqliteStoreOver(db: Database, path: string, migrationsApplied: number[] = [], opts: SqliteStoreOptions = {}): Store {
  const sync = createSqliteRepos(db)
  const { localBumps: _local, ...meta } = sync.meta
  const { transaction: _tx, ...webhooks } = sync.webhooks
  const repos = { ...sync, meta, webhooks }
  const engine = createAsyncSqlite(db, {
    meta: repos.meta,
    sites: repos.sites,
    tokens: repos.tokens,
    tags: repos.tags,
    rateBuckets: repos.rateBuckets,
    health: repos.health,
    webhooks: repos.webhooks,
    admins: repos.admins,
    visitors: repos.visitors,
    visitorEvents: repos.visitorEvents,
    segments: repos.segments,
    starters: repos.starters,
    siteIdentity: repos.siteIdentity,
    kb: repos.kb,
    chat: repos.chat,
    idempotency: repos.idempotency,
  })
  let checkpointer: Checkpointer | null = null
  let closed = false
  const store = {
    ...engine.outer,
    engine: 'sqlite' as const,
    migrationsApplied,
    withoutWaiting: (fn: never) => engine.transaction(fn, { noWait: true }),
    // One server per data dir (the lock file): nobody else runs the job.
    async once(_job: string, _nowMs: number, _minIntervalMs: number, fn: () => Promise<void>) {
      await fn()
      return true
    },
    // One process per data dir: the dispatcher wakes its own worker thread.
    signalWebhookQueue() {},
    listenWebhookQueue: async () => async () => {},
    localChanges: () => sync.meta.localBumps(),
    startUpkeep(onError: (message: string) => void) {
      if (opts.checkpointIntervalMs && opts.checkpointIntervalMs > 0 && !checkpointer) {
        checkpointer = startCheckpointer(db, path, opts.checkpointIntervalMs, onError)
      }
    },
    async close() {
      if (closed) return
      closed = true
      // Writes queued for a group commit land before the connection closes.
      await engine.flushGroups()
      await engine.gate.acquire()
      await checkpointer?.stop()
      db.close()
    },
  }
  return store as unknown as Store
}
