/**
 * The storage interface: what services, controllers, the dashboard, the CLI and the webhook
 * worker see of the database, whichever engine serves it. One repository per table group, each
 * method answering a promise, and transactions as callbacks handed a transaction-scoped store.
 *
 * Two engines implement it: the embedded SQLite file (src/db/sqlite/, the default) and
 * PostgreSQL (src/db/postgres/, with MLC_DATABASE_URL). Nothing above src/db/ knows which one
 * answers: no SQL, no driver error codes, no connection objects. Engine errors arrive as the
 * classes in ./errors.ts.
 *
 * Concurrency: SQLite runs one write transaction at a time; PostgreSQL runs many at READ COMMITTED,
 * where a read-modify-write (merging a partial PATCH into the row it read, counting before an
 * insert) can lose a concurrent change. Such a transaction calls `tx.lock(key)` first, with the
 * resource's name from ./lock-keys.ts: transactions touching one resource then run one after the
 * other on both engines, and the rest stay concurrent on PostgreSQL.
 */

import type { AsyncRepo } from './async-repo'
import type {
  AdminRepo,
  ChatRepo,
  HealthRepo,
  IdempotencyRepo,
  KbRepo,
  MetaRepo,
  RateBucketRepo,
  SegmentRepo,
  SiteIdentityRepo,
  SiteRepo,
  StarterRepo,
  TagRepo,
  TokenRepo,
  VisitorEventRepo,
  VisitorRepo,
  WebhookRepo,
} from './rows'

/** The repositories, as every engine offers them. */
export interface Repositories {
  readonly meta: AsyncRepo<Omit<MetaRepo, 'localBumps'>>
  readonly sites: AsyncRepo<SiteRepo>
  readonly tokens: AsyncRepo<TokenRepo>
  readonly tags: AsyncRepo<TagRepo>
  readonly rateBuckets: AsyncRepo<RateBucketRepo>
  readonly health: AsyncRepo<HealthRepo>
  readonly webhooks: AsyncRepo<Omit<WebhookRepo, 'transaction'>>
  readonly admins: AsyncRepo<AdminRepo>
  readonly visitors: AsyncRepo<VisitorRepo>
  readonly visitorEvents: AsyncRepo<VisitorEventRepo>
  readonly segments: AsyncRepo<SegmentRepo>
  readonly starters: AsyncRepo<StarterRepo>
  readonly siteIdentity: AsyncRepo<SiteIdentityRepo>
  readonly kb: AsyncRepo<KbRepo>
  readonly chat: AsyncRepo<ChatRepo>
  /** Idempotency-Key claims and stored responses (src/http/idempotency.ts). */
  readonly idempotency: AsyncRepo<IdempotencyRepo>
}

/** A store inside a transaction: the same repositories; a nested transaction is a savepoint. */
export interface TxStore extends Repositories {
  /** Runs `fn` in a savepoint: its failure undoes only its own writes, and rethrows. */
  transaction<T>(fn: (tx: TxStore) => Promise<T>): Promise<T>
  /** Inside a transaction, the same as `transaction`. */
  grouped<T>(fn: (tx: TxStore) => Promise<T>): Promise<T>
  /**
   * Serialises the transactions that touch one thing: waits until no other transaction holds
   * `key` (a name from ./lock-keys.ts), then holds it until this transaction commits or rolls
   * back (taken inside a nested transaction that rolls back, PostgreSQL lets it go then). A read-modify-write (read the row, merge what a partial PATCH did not send, write the
   * whole row back) or a count-then-insert limit takes the lock first, before its read, so two of
   * them on the same resource cannot both read the old state: the second reads what the first
   * committed. Without it, PostgreSQL at READ COMMITTED lets both read the old row and the second
   * write silently undoes the first (a lost update answered 200), or lets two creates at the limit
   * both pass.
   *
   * PostgreSQL: `pg_advisory_xact_lock` on a 64-bit hash of the key (postgres/advisory-lock.ts).
   * It locks no row, so inserts referencing the resource (foreign keys take key-share row locks)
   * and plain reads go on meanwhile, unlike `SELECT ... FOR UPDATE` of a parent row. Waiting counts
   * against the statement timeout: a wait past it rejects with StorageUnavailableError (503).
   * SQLite: nothing to do, the transaction already holds the database's one write lock.
   *
   * Take at most one key per transaction (or always in the same order): two transactions taking
   * two keys in opposite orders deadlock, which PostgreSQL breaks by failing one of them.
   */
  lock(key: string): Promise<void>
}

/** The store a process opens once and passes down. */
export interface Store extends Repositories {
  /** Which engine answers ('sqlite' or 'postgres'): for logs, /readyz and docs, never for branching in services. */
  readonly engine: 'sqlite' | 'postgres'
  /** Schema versions this open applied (empty when the schema was current). */
  readonly migrationsApplied: readonly number[]
  /**
   * Runs `fn` in one transaction and commits when it resolves, rolls back when it throws. Only
   * the store's own calls may be awaited inside: on SQLite the connection is held meanwhile.
   */
  transaction<T>(fn: (tx: TxStore) => Promise<T>): Promise<T>
  /**
   * A transaction that may share its commit with others arriving at the same moment (SQLite's
   * group commit: one WAL commit for a burst of tracked events). Resolves once committed.
   */
  grouped<T>(fn: (tx: TxStore) => Promise<T>): Promise<T>
  /**
   * A background write that must never make the process wait for a lock held elsewhere (SQLite's
   * busy handler sleeps inside the call, holding the event loop). Rejects at once with a
   * retryable StorageUnavailableError when the lock is taken; the caller tries again later.
   */
  withoutWaiting<T>(fn: (tx: TxStore) => Promise<T>): Promise<T>
  /**
   * Runs a periodic job (the chat inactivity sweep, webhook retention) at most once per
   * `minIntervalMs` across every instance on this database, and never two at once. SQLite: one
   * process per data dir, so `fn` simply runs. PostgreSQL: a short transaction takes a
   * transaction-scoped try-advisory lock for the job and reads when the job last started (a row in
   * `meta`); another instance holding the lock, or a start less than `minIntervalMs` ago, skips
   * `fn`; otherwise the start is recorded and committed, then `fn` runs (no connection is held for
   * it). Resolves true when `fn` ran here.
   */
  once(job: string, nowMs: number, minIntervalMs: number, fn: () => Promise<void>): Promise<boolean>
  /**
   * Tells the webhook workers of every instance on this database that deliveries may be due, after
   * the commit that enqueued them (PostgreSQL: NOTIFY; SQLite: nothing, one process). Never throws
   * or waits: a lost signal is caught by the workers' idle check.
   */
  signalWebhookQueue(): void
  /**
   * Calls `onSignal` when another instance signals the webhook queue (PostgreSQL: LISTEN on a
   * connection of its own, subscribed again after a reconnect, and `onSignal` then too: signals
   * may have been missed). SQLite: never. Resolves with the function that stops listening.
   */
  listenWebhookQueue(onSignal: () => void): Promise<() => Promise<void>>
  /** Token and site changes made through this process (the auth cache's local epoch), read without I/O. */
  localChanges(): number
  /** Starts the engine's background upkeep (SQLite: the WAL checkpoint thread). `onError` hears why it could not. */
  startUpkeep(onError: (message: string) => void): void
  /** Stops the upkeep and closes every connection. */
  close(): Promise<void>
}

export type { AsyncRepo } from './async-repo'
