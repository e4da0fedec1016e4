/**
 * Runs the server: opens the store (the data dir's SQLite file, or PostgreSQL with
 * MLC_DATABASE_URL), creates site 1 on first start, restores rate-limit buckets, serves HTTP,
 * flushes counters and buckets in the background, and shuts down gracefully on SIGTERM/SIGINT
 * (stop accepting, finish in-flight requests, flush, close).
 */
import { hostname } from 'node:os'
import { createApp, publicUrlOf } from './app'
import { closeInactiveSessions } from './chat/sessions'
import { type Clock, systemClock } from './clock'
import type { Config } from './config'
import { createSetupLink } from './dashboard/accounts'
import { type DataDirLock, databasePath, lockDataDir, tightenDataDir } from './db/data-dir'
import { StorageUnavailableError } from './db/errors'
import { openStore } from './db/open-store'
import type { Store, TxStore } from './db/store'
import { CORS_HEADERS, REQUEST_ID_HEADER } from './http/headers'
import { pruneIdempotencyKeys } from './http/idempotency-retention'
import type { SocketData } from './http/websocket'
import { createLogger, type Logger } from './log'
import { createPlatformMetrics } from './metrics/platform'
import { ensureFirstSite } from './modules/sites/service'
import { newRequestId } from './random'
import { createRedisFanout } from './shared/fanout-redis'
import { RedisRateLimiter } from './shared/rate-limit'
import { openRedis, type SharedRedis } from './shared/redis'
import { COMMIT } from './version'
import { createWorkerDispatcher } from './webhooks/dispatcher'
import { pruneWebhookHistory } from './webhooks/retention'

/** How long after listening the worker threads start and the setup link is made (see below). */
const AFTER_LISTENING_DELAY_MS = 20
/** A periodic flush that found the database locked tries again this often, this many times. */
const FLUSH_RETRY_MS = 20
const FLUSH_RETRIES = 10

export interface RunningServer {
  url: string
  port: number
  store: Store
  app: ReturnType<typeof createApp>
  /** Graceful stop: resolves when everything is flushed and closed. */
  stop(): Promise<void>
}

/** Starts serving with `config`. */
export async function startServer(config: Config, opts: { clock?: Clock; logger?: Logger } = {}): Promise<RunningServer> {
  // Start-up phases, reported in the `listening` line (where the time goes when a start is slow).
  const loadedMs = performance.now()
  const clock = opts.clock ?? systemClock
  const logger = opts.logger ?? createLogger({ level: config.logLevel as never, format: config.logFormat })
  // The data dir matters only to the embedded SQLite engine; PostgreSQL keeps nothing in it.
  let lock: DataDirLock | null = null
  if (!config.databaseUrl) {
    // One server per data dir: a second one (or a restore) is refused while this one runs.
    lock = lockDataDir(config.dataDir, 'cannot serve')
    // The pid file only names the holder in messages; a full disk must not stop the start.
    if (lock.pidFileError) logger.warn('could not write mlc.pid; serving without it', { error: lock.pidFileError })
    // Data dirs made by older versions were readable by every local user: make them private.
    const modes = tightenDataDir(config.dataDir)
    if (modes.changed.length) logger.info('tightened data dir permissions', { changed: modes.changed })
    if (modes.failed.length) logger.warn('could not tighten data dir permissions', { failed: modes.failed })
  }
  let store: Store
  try {
    store = await openStore(config)
  } catch (err) {
    lock?.release()
    throw err
  }
  const applied = store.migrationsApplied
  if (applied.length) logger.info(applied[0] === 1 ? 'created database schema' : 'upgraded database schema', { applied })
  // The process's Redis (MLC_REDIS_URL): what instances share. Unreachable at start does not stop
  // the start (it reconnects); a URL that is no Redis URL is a configuration error.
  let redis: SharedRedis | null = null
  if (config.redisUrl) {
    try {
      redis = await openRedis(config, { logger })
    } catch (err) {
      await store.close()
      lock?.release()
      throw err
    }
  } else if (store.engine === 'postgres') {
    // The auth cache follows the database's auth_epoch (any instance's change holds within a
    // second), but rate limits and live-chat fan-out stay in this process without Redis.
    logger.warn(
      'no MLC_REDIS_URL: rate limits and live chat are kept in this instance\'s memory; a second instance on this database needs MLC_REDIS_URL (docs/operations.md, "More than one machine")',
      { engine: 'postgres' },
    )
  }
  // Live-chat events published here reach the sockets of every instance (Redis pub/sub).
  const fanout = redis ? createRedisFanout({ redis, clock, logger }) : undefined
  const firstSite = await ensureFirstSite(store, clock)
  if (firstSite) logger.info('created site 1 on first start', { site_id: firstSite.id, publishable_key: firstSite.publishable_key })

  const metrics = createPlatformMetrics({ commit: COMMIT, startedMs: clock.now() })
  // Webhook delivery runs in its own thread with its own connection to the same file (started
  // below, once the server listens).
  const webhooks = createWorkerDispatcher({ config, dbPath: databasePath(config.dataDir), store, clock, logger, metrics })
  const openedMs = performance.now()
  // Rate limits: with Redis every instance draws from the same buckets there; else this process's.
  const limiter = redis ? new RedisRateLimiter(redis, clock, { logger, metrics: metrics.registry }) : undefined
  const app = createApp({ config, store, clock, logger, metrics, webhooks, fanout, limiter })
  fanout?.start()
  const builtMs = performance.now()
  // Checkpoints a window old are full buckets: they are not loaded, and the first flush deletes them.
  // With Redis the buckets are there (the in-process ones stay empty; old rows are pruned).
  if (!limiter) app.buckets.restore(await store.rateBuckets.loadAll(clock.now() - app.buckets.windowMs))

  /**
   * Writes request counters and rate-limit buckets. On the timer it waits for no lock: the webhook
   * thread commits often, and SQLite's busy handler sleeps inside the call, holding the event loop
   * (every request) for 8-18 ms, up to 5 s, whenever the two collide. A busy attempt is retried
   * shortly; counters and buckets stay in memory until written. The last flush, on shutdown
   * (the worker has stopped), waits as usual. Buckets that filled up again lose their row and
   * are forgotten, so neither the table nor memory grows with every client IP ever seen.
   */
  let flushRetry: ReturnType<typeof setTimeout> | undefined
  // The flush being written, so a tick never starts a second one and shutdown waits for it.
  let flushing: Promise<void> | null = null
  // Rows older than a window were not loaded at start, so only a table scan finds them: once.
  let staleBucketRows = true
  const write = async (wait: boolean, retriesLeft: number) => {
    const dirty = app.buckets.takeDirty()
    const counts = app.usage.drain()
    try {
      // Nothing to write opens no transaction.
      if (counts.length || dirty.length || staleBucketRows) {
        const work = async (tx: TxStore) => {
          if (counts.length) await tx.tokens.addUsage(counts)
          if (dirty.length) await tx.rateBuckets.save(dirty)
          if (staleBucketRows) await tx.rateBuckets.prune(clock.now() - app.buckets.windowMs)
        }
        await (wait ? store.transaction(work) : store.withoutWaiting(work))
      }
      staleBucketRows = false
      app.buckets.sweep()
    } catch (err) {
      app.buckets.returnDirty(dirty)
      app.usage.restore(counts)
      if (!(err instanceof StorageUnavailableError && err.reason === 'conflict')) logger.error('flush failed; will retry', { error: String(err) })
      else if (retriesLeft > 0) {
        flushRetry = setTimeout(() => {
          flushRetry = undefined
          void flush(wait, retriesLeft - 1)
        }, FLUSH_RETRY_MS)
      }
    }
  }
  const flush = (wait: boolean, retriesLeft = 0): Promise<void> => {
    const running = write(wait, retriesLeft).finally(() => {
      if (flushing === running) flushing = null
    })
    flushing = running
    return running
  }
  // One flush or retry chain at a time: a tick that finds one pending leaves the writing to it.
  const flushTimer = setInterval(() => {
    if (flushRetry === undefined && flushing === null) void flush(false, FLUSH_RETRIES)
  }, config.flushIntervalMs)
  // Pick up token changes made by the CLI even when no request arrives to trigger the check. A
  // check that finds storage unavailable is simply tried again on the next tick.
  const epochTimer = setInterval(async () => {
    try {
      await app.authenticator.checkEpoch()
    } catch {}
  }, 500)

  // Periodic jobs run once per interval across the instances on one database (store.once: on
  // PostgreSQL the first instance to fire takes it; SQLite is one process). The others' timers,
  // firing out of phase, find it done less than 90% of an interval ago and skip.
  const jobInterval = (ms: number) => Math.floor(ms * 0.9)
  // Close chats nobody wrote in for MLC_CHAT_INACTIVITY_TIMEOUT seconds, one sweep at a time.
  let sweeping: Promise<void> | null = null
  const sweep = async () => {
    try {
      await store.once('chat-inactivity-sweep', clock.now(), jobInterval(config.chatSweepIntervalMs), async () => {
        const closed = await closeInactiveSessions(app.chat)
        if (closed > 0) logger.info('closed inactive chat sessions', { closed })
      })
    } catch (err) {
      logger.error('chat inactivity sweep failed; will retry', { error: String(err) })
    }
  }
  const sweepTimer = setInterval(() => {
    if (sweeping !== null) return
    sweeping = sweep().finally(() => {
      sweeping = null
    })
  }, config.chatSweepIntervalMs)
  // Finished webhook history older than MLC_WEBHOOK_RETENTION_DAYS and events older than
  // MLC_EVENT_RETENTION_DAYS that no delivery keeps go, a minute after start and hourly.
  const PRUNE_INTERVAL_MS = 60 * 60_000
  const pruneHistory = () =>
    store
      .once('webhook-retention', clock.now(), jobInterval(PRUNE_INTERVAL_MS), async () => {
        const days = { deliveries: config.webhookRetentionDays, events: config.eventRetentionDays }
        const pruned = await pruneWebhookHistory(store, clock, days)
        if (pruned.deliveries > 0 || pruned.events > 0) {
          logger.info('pruned webhook history', { ...pruned, retention_days: config.webhookRetentionDays, event_retention_days: config.eventRetentionDays })
        }
      })
      .catch((err) => logger.error('webhook history pruning failed; will retry', { error: String(err) }))
  const firstPrune = setTimeout(pruneHistory, 60_000)
  const pruneTimer = setInterval(pruneHistory, PRUNE_INTERVAL_MS)
  // Idempotency-Keys past MLC_IDEMPOTENCY_TTL go on the same schedule (an expired key is unused already).
  const pruneKeys = () =>
    store
      .once('idempotency-retention', clock.now(), jobInterval(PRUNE_INTERVAL_MS), async () => {
        const pruned = await pruneIdempotencyKeys(store, clock, config.idempotencyTtl)
        if (pruned > 0) logger.info('pruned idempotency keys', { keys: pruned, ttl_seconds: config.idempotencyTtl })
      })
      .catch((err) => logger.error('idempotency key pruning failed; will retry', { error: String(err) }))
  const firstKeyPrune = setTimeout(pruneKeys, 60_000)
  const keyPruneTimer = setInterval(pruneKeys, PRUNE_INTERVAL_MS)
  // Agents' sockets stop listening within a second of their token's revocation.
  // A check that finds storage unavailable is tried again a second later.
  const socketCheckTimer = setInterval(async () => {
    try {
      await app.realtime.revalidate()
    } catch {}
  }, 1000)

  const server = Bun.serve<SocketData>({
    port: config.port,
    hostname: config.host,
    // Bodies over 1 MiB are refused by our parser with an enveloped 413; Bun's own cap sits above it.
    maxRequestBodySize: 8 * 1024 * 1024,
    fetch: (req, srv) => app.serve(req, srv),
    websocket: app.dashboard.live.track(app.realtime.websocket),
    // Only reached by a bug of ours (every known failure is answered in the envelope before this):
    // still the envelope, with a request id that matches the log line.
    error: (err) => {
      const requestId = newRequestId()
      logger.error('unhandled server error', { request_id: requestId, error: String(err), stack: err.stack })
      const body = {
        ok: false,
        error: {
          code: 'internal_error',
          message: `Something went wrong on our side. Quote request id ${requestId} when you contact support.`,
          request_id: requestId,
        },
      }
      return new Response(JSON.stringify(body), {
        status: 500,
        headers: { ...CORS_HEADERS, 'content-type': 'application/json; charset=utf-8', [REQUEST_ID_HEADER]: requestId },
      })
    },
  })
  const url = config.publicUrl || `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${server.port}`
  // Behind a load balancer every instance names itself in /metrics and /readyz.
  const instance = config.instanceId || (redis ? `${hostname()}:${server.port}` : '')
  metrics.registry.setInstance(instance)
  app.lifecycle.instance = instance || undefined
  if (redis) {
    app.lifecycle.redis = redis
    const shared = redis
    metrics.registry.gauge('mlc_redis_up', 'Whether this instance reaches Redis (1) or runs on its own limits and local chat (0).', [], () => [
      { value: shared.available ? 1 : 0 },
    ])
  }
  logger.info('listening', {
    url,
    data_dir: config.dataDir,
    engine: store.engine,
    ...(instance ? { instance } : {}),
    openapi: `${publicUrlOf({ ...config, port: server.port ?? config.port })}/v1/openapi`,
    // Time since the process started, and its parts: loading the program, opening (and migrating)
    // the database, building the app.
    startup_ms: Math.round(performance.now()),
    load_ms: Math.round(loadedMs),
    open_ms: Math.round(openedMs - loadedMs),
    build_ms: Math.round(builtMs - openedMs),
  })
  // What serving does not wait for runs just after the server starts listening, so clients
  // queued by a restart are answered first. The threads each boot their own JavaScript VM, which
  // on two cores delayed the first answer by ~30 ms; events enqueued meanwhile wait in the
  // outbox, and the writer checkpoints by itself until the checkpointer runs.
  const afterListening = setTimeout(async () => {
    // The binary starts with JavaScriptCore's tier-up thresholds raised (scripts/build.ts): code
    // that only runs while starting stays in the interpreter instead of keeping the JIT busy. Now
    // that the server is up, the normal policy returns for the code that serves requests.
    Bun.unsafe.setJITPolicy(1)
    // No dashboard admin yet: a one-time link (valid 1 h) creates the first one in the browser.
    // Storing it is a write: on a full disk the server serves on without it.
    try {
      const setupToken = await createSetupLink(store, clock)
      if (setupToken) {
        logger.warn('no dashboard admin yet: open this one-time link within 1 hour to create one (or run `mlc admin create`)', {
          setup_url: `${url.replace(/\/$/, '')}/dashboard/setup?token=${setupToken}`,
        })
      }
    } catch (err) {
      logger.error('no dashboard admin yet, and the setup link could not be stored; restart once storage works, or run `mlc admin create`', {
        error: String(err),
      })
    }
    // A stop that began while the link was stored starts nothing more.
    if (stopping !== null) return
    webhooks.start()
    // SQLite: WAL checkpoints (the only disk waits of a write) run on their own thread, off the
    // request path (MLC_CHECKPOINT_INTERVAL_MS; 0 leaves them to the writer).
    store.startUpkeep((error) => logger.warn('checkpoint thread unavailable; the writer checkpoints itself', { error }))
  }, AFTER_LISTENING_DELAY_MS)

  let stopping: Promise<void> | null = null
  const stop = () => {
    stopping ??= (async () => {
      const started = performance.now()
      logger.info('shutting down')
      app.lifecycle.draining = true
      clearTimeout(afterListening)
      clearInterval(flushTimer)
      clearInterval(epochTimer)
      clearInterval(sweepTimer)
      clearTimeout(firstPrune)
      clearInterval(pruneTimer)
      clearTimeout(firstKeyPrune)
      clearInterval(keyPruneTimer)
      clearInterval(socketCheckTimer)
      app.realtime.closeAll()
      // Stop accepting and finish requests in flight; connections still busy after the grace
      // period (8 s by default) are closed, so the whole stop stays under 10 s.
      const forced = setTimeout(() => server.stop(true), config.shutdownTimeoutMs)
      await server.stop(false)
      clearTimeout(forced)
      // The worker finishes its attempts or hands its claimed deliveries back to the queue.
      try {
        await app.webhooks.stop()
      } catch (err) {
        logger.error('webhook worker did not stop cleanly; its leases expire and are claimed again', { error: String(err) })
      }
      // A flush still writing finishes (a retry it scheduled is dropped); the last one waits for
      // a lock as long as any write does.
      await flushing
      clearTimeout(flushRetry)
      await flush(true)
      await sweeping
      await app.chat.hub.fanout.close()
      await redis?.close()
      await store.close()
      lock?.release()
      logger.info('stopped', { duration_ms: Math.round(performance.now() - started) })
      logger.flush()
    })()
    return stopping
  }
  return { url, port: server.port ?? config.port, store, app, stop }
}
