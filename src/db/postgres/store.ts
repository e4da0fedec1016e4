/**
 * PostgreSQL as a Store: a pool (Bun.sql), migrated under an advisory lock, every repository
 * built over the pool and again over each transaction, with PostgreSQL errors in the engines'
 * common words. A transaction is `BEGIN ... COMMIT` on one pooled connection; inside it, a nested
 * transaction is a savepoint. No memory caches live here: every read asks the database, so
 * several instances never disagree (cache invalidation across instances comes with Redis).
 */
import type { SQL } from 'bun'
import type { Repositories, Store, TxStore } from '../store'
import { createPostgresAdminRepo } from './admins'
import { lockInTransaction } from './advisory-lock'
import { createPostgresChatRepo } from './chat'
import { openPostgres, type PostgresOptions } from './connection'
import { createPostgresStarterRepo } from './conversation-starters'
import { mappingPostgresErrors, withPostgresErrors } from './errors'
import { createPostgresHealthRepo } from './health'
import { createPostgresIdempotencyRepo } from './idempotency'
import { createPostgresKbRepo } from './kb'
import { createPostgresMetaRepo, type LocalBumps } from './meta'
import { migratePostgres } from './migrate'
import { createPostgresRateBucketRepo } from './rate-buckets'
import { createPostgresSegmentRepo } from './segments'
import { createPostgresSiteIdentityRepo } from './site-identity'
import { createPostgresSiteRepo } from './sites'
import { createPostgresTagRepo } from './tags'
import { createPostgresTokenRepo } from './tokens'
import { createPostgresVisitorEventRepo } from './visitor-events'
import { createPostgresVisitorRepo } from './visitors'
import { createPostgresWebhookRepo } from './webhooks'

/** Every repository over `sql` (the pool, or one transaction's connection). */
function repositoriesOver(sql: SQL, bumps: LocalBumps): Repositories {
  const { localBumps: _local, ...meta } = createPostgresMetaRepo(sql, bumps)
  const { transaction: _tx, ...webhooks } = createPostgresWebhookRepo(sql)
  return {
    meta: withPostgresErrors(meta),
    sites: withPostgresErrors(createPostgresSiteRepo(sql)),
    tokens: withPostgresErrors(createPostgresTokenRepo(sql)),
    tags: withPostgresErrors(createPostgresTagRepo(sql)),
    rateBuckets: withPostgresErrors(createPostgresRateBucketRepo(sql)),
    health: createPostgresHealthRepo(sql),
    webhooks: withPostgresErrors(webhooks),
    admins: withPostgresErrors(createPostgresAdminRepo(sql)),
    visitors: withPostgresErrors(createPostgresVisitorRepo(sql)),
    visitorEvents: withPostgresErrors(createPostgresVisitorEventRepo(sql)),
    segments: withPostgresErrors(createPostgresSegmentRepo(sql)),
    starters: withPostgresErrors(createPostgresStarterRepo(sql)),
    siteIdentity: withPostgresErrors(createPostgresSiteIdentityRepo(sql)),
    kb: withPostgresErrors(createPostgresKbRepo(sql)),
    chat: withPostgresErrors(createPostgresChatRepo(sql)),
    idempotency: withPostgresErrors(createPostgresIdempotencyRepo(sql)),
  } as Repositories
}

/** Advisory lock class of periodic jobs ("mlcj" in ASCII); the job name's hash is the second key. */
const JOB_LOCK_CLASS = 0x6d6c636a

/** The channel every instance's webhook dispatcher LISTENs on; the payload names the sending process. */
const WEBHOOK_QUEUE_CHANNEL = 'mlc_webhook_queue'

/** The transaction-scoped store over one transaction's connection. */
function txStoreOver(tx: SQL, bumps: LocalBumps): TxStore {
  const repos = repositoriesOver(tx, bumps)
  const nested = <T>(fn: (inner: TxStore) => Promise<T>): Promise<T> =>
    mappingPostgresErrors(() => (tx as SQL & { savepoint: (f: (sp: SQL) => Promise<T>) => Promise<T> }).savepoint((sp) => fn(txStoreOver(sp, bumps))))
  // Held until the transaction ends; taken inside a savepoint, PostgreSQL drops it again if that
  // savepoint rolls back (a released savepoint passes it on to the enclosing transaction).
  const lock = (key: string): Promise<void> => mappingPostgresErrors(() => lockInTransaction(tx, key))
  return { ...repos, transaction: nested, grouped: nested, lock }
}

/** Opens the pool, migrates (under the advisory lock) and returns the store. */
export async function openPostgresStore(opts: PostgresOptions): Promise<Store> {
  const sql = openPostgres(opts)
  let applied: number[]
  try {
    applied = await mappingPostgresErrors(() => migratePostgres(sql))
  } catch (err) {
    await sql.close()
    throw err
  }
  return postgresStoreOver(sql, applied)
}

/** A Store over an open, migrated pool. */
export function postgresStoreOver(sql: SQL, migrationsApplied: number[] = []): Store {
  const bumps: LocalBumps = { count: 0 }
  // Names this store's signals, so its own listener ignores them.
  const processTag = crypto.randomUUID()
  const repos = repositoriesOver(sql, bumps)
  const transaction = <T>(fn: (tx: TxStore) => Promise<T>): Promise<T> =>
    mappingPostgresErrors(() => sql.begin((tx) => fn(txStoreOver(tx, bumps))) as Promise<T>)
  return {
    ...repos,
    engine: 'postgres',
    migrationsApplied,
    transaction,
    grouped: transaction,
    // A lock another session holds fails the statement after 100 ms instead of queueing behind it.
    withoutWaiting: <T>(fn: (tx: TxStore) => Promise<T>): Promise<T> =>
      mappingPostgresErrors(
        () =>
          sql.begin(async (tx) => {
            await tx`SET LOCAL lock_timeout = '100ms'`
            return fn(txStoreOver(tx, bumps))
          }) as Promise<T>,
      ),
    async once(job: string, nowMs: number, minIntervalMs: number, fn: () => Promise<void>): Promise<boolean> {
      const key = `job_started:${job}`
      const due = await mappingPostgresErrors(
        () =>
          sql.begin(async (tx) => {
            // Another instance checking or recording this job right now: it runs it, not us.
            const [lock] = await tx`SELECT pg_try_advisory_xact_lock(${JOB_LOCK_CLASS}, hashtext(${job})) AS locked`
            if (!lock?.locked) return false
            const [last] = await tx`SELECT value FROM meta WHERE key = ${key}`
            const age = last ? nowMs - Number(last.value) : Number.POSITIVE_INFINITY
            // A start stamped far in the future (a clock set wrong once) must not block the job for good.
            if (age < minIntervalMs && age > -minIntervalMs) return false
            await tx`INSERT INTO meta (key, value) VALUES (${key}, ${String(nowMs)}) ON CONFLICT (key) DO UPDATE SET value = excluded.value`
            return true
          }) as Promise<boolean>,
      )
      if (due) await fn()
      return due
    },
    signalWebhookQueue() {
      // Fire and forget: a lost NOTIFY costs at most the workers' idle check, never a request.
      sql.notify(WEBHOOK_QUEUE_CHANNEL, processTag).catch(() => {})
    },
    async listenWebhookQueue(onSignal: () => void) {
      const subscription = await mappingPostgresErrors(() =>
        sql.listen(
          WEBHOOK_QUEUE_CHANNEL,
          // Our own signals: this process's worker was woken directly.
          (payload) => {
            if (payload !== processTag) onSignal()
          },
          // Subscribed (again, after a reconnect): whatever was signalled meanwhile is looked at now.
          onSignal,
        ),
      )
      return () => subscription.unlisten()
    },
    localChanges: () => bumps.count,
    startUpkeep() {},
    async close() {
      await sql.close({ timeout: 5 })
    },
  }
}
