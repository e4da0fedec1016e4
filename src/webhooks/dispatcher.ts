/**
 * The request thread's handle on webhook delivery. `wake()` after a commit that enqueued events;
 * `status()` for /readyz; `stop()` on shutdown. The real one runs the worker thread; the idle one
 * (apps built without a server, e.g. most tests) only keeps the outbox.
 */
import { type Clock, systemClock } from '../clock'
import type { Config } from '../config'
import type { Repositories, Store } from '../db/store'
import { type Logger, WEBHOOK_ATTEMPT_MSG } from '../log'
import { workerEntry } from '../worker-entry'
import type { AttemptSummary, FromWorker, ToWorker, WorkerSettings } from './protocol'

/** What /readyz and operators see of the delivery queue. */
export interface WebhookStatus {
  /** Whether a worker thread is running and answering. */
  alive: boolean
  /** Unfinished deliveries (pending or retrying). */
  queue_depth: number
  /** Unfinished deliveries whose next attempt is due now. */
  due: number
  /** Deliveries the worker is sending right now. */
  in_flight: number
  /** Age of the oldest unfinished delivery, or null when none. */
  oldest_pending_age_ms: number | null
  /** How late the most overdue attempt is (the worker's lag), or null when nothing is due. */
  oldest_due_lag_ms: number | null
}

export interface WebhookDispatcher {
  /** Tells the worker something may be due now; call it after the commit that enqueued. */
  wake(): void
  /** Queue and worker health (reads the queue from the database). */
  status(): Promise<WebhookStatus>
  /** Resolves with a delivery's next attempt outcome, or null after `timeoutMs`. */
  waitForAttempt(deliveryId: string, timeoutMs: number): Promise<AttemptSummary | null>
  /** Stops the worker: in-flight attempts finish or are handed back. */
  stop(): Promise<void>
}

/** Queue numbers from the database (shared by both dispatchers). */
export async function queueStatus(store: Pick<Repositories, 'webhooks'>, clock: Clock, alive: boolean): Promise<WebhookStatus> {
  const now = clock.now()
  const s = await store.webhooks.queueStats(now)
  return {
    alive,
    queue_depth: s.depth,
    due: s.due,
    in_flight: s.in_flight,
    oldest_pending_age_ms: s.oldest_created_ms === null ? null : Math.max(0, now - s.oldest_created_ms),
    oldest_due_lag_ms: s.oldest_due_ms === null ? null : Math.max(0, now - s.oldest_due_ms),
  }
}

/** A dispatcher without a worker: events are kept in the outbox until a server with a worker runs. */
export function createIdleDispatcher(store: Store, clock: Clock): WebhookDispatcher {
  return {
    wake() {},
    status: () => queueStatus(store, clock, false),
    waitForAttempt: async () => null,
    stop: async () => {},
  }
}

export interface WorkerDispatcherOptions {
  config: Config
  /** The SQLite file; the worker opens its own connection to it (unused with a database URL: the worker opens its own pool). */
  dbPath: string
  store: Store
  clock: Clock
  logger: Logger
  /** Counts attempts by result (the platform metrics' webhookDeliveries). */
  metrics?: { webhookDeliveries: { inc(values: readonly string[]): void } }
}

/** Connections of the worker's own PostgreSQL pool: one for its claim transaction, one for single statements. */
const WORKER_POOL_SIZE = 2

/** The database the worker opens: the configured PostgreSQL server, else the SQLite file at `dbPath`. */
function workerDatabase(config: Config, dbPath: string): WorkerSettings['database'] {
  if (!config.databaseUrl) return { engine: 'sqlite', path: dbPath }
  return {
    engine: 'postgres',
    url: config.databaseUrl,
    poolSize: Math.min(config.databasePoolSize, WORKER_POOL_SIZE),
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    prepare: config.databasePrepare,
  }
}

/** The settings the worker runs with, from the configuration. */
export function workerSettings(config: Config, dbPath: string, manualNowMs: number | null): WorkerSettings {
  return {
    database: workerDatabase(config, dbPath),
    timeoutMs: config.webhookTimeoutMs,
    backoffSeconds: [...config.webhookBackoff],
    allowPrivate: config.webhookAllowPrivate,
    concurrency: config.webhookConcurrency,
    perSubscription: Math.min(config.webhookConcurrencyPerSubscription, config.webhookConcurrency),
    // Longer than the timeout by a margin for writing the result, so a live attempt is never claimed twice.
    leaseMs: config.webhookTimeoutMs + Math.max(5000, config.webhookTimeoutMs),
    idleCheckMs: 60_000,
    manualNowMs,
  }
}

const LIVENESS_INTERVAL_MS = 5000

/** The logger Bun's LISTEN warnings go to (the last dispatcher started in this process). */
let listenLogger: Logger | null = null

/**
 * Bun's shared LISTEN connection (PostgreSQL) reports each failed reconnect with a plain
 * `console.warn("bun:sql LISTEN ... failed, retrying: ...")` (its source, SQL listen sweep); every
 * line mlc writes is a JSON log line, so those become our warnings. Other warnings pass unchanged.
 */
function routeListenWarnings(logger: Logger) {
  if (listenLogger === null) {
    const original = console.warn
    console.warn = (...args: unknown[]) => {
      const first = args[0]
      if (listenLogger && typeof first === 'string' && first.startsWith('bun:sql LISTEN ')) {
        listenLogger.warn('webhook wake-up channel (LISTEN) cannot reconnect yet; retrying', { error: first })
        return
      }
      original.apply(console, args)
    }
  }
  listenLogger = logger
}

/**
 * The handle on the delivery worker thread; `start()` starts the thread (the server does so once
 * it listens). A worker that dies is restarted (after 1 s, doubling to 30 s); rows it held are
 * claimed again when their lease ends. Until the thread runs, events wait in the outbox: the
 * worker claims everything due when it starts.
 */
export function createWorkerDispatcher(opts: WorkerDispatcherOptions): WebhookDispatcher & { ready: Promise<void>; start(): void } {
  const { config, dbPath, store, clock, logger } = opts
  const manual = clock !== systemClock
  let worker: Worker | null = null
  let alive = false
  let lastPong = 0
  let stopping: Promise<void> | null = null
  let restartDelay = 1000
  let wakeQueued = false
  const waiters = new Map<string, ((a: AttemptSummary | null) => void)[]>()
  let onStopped: (() => void) | null = null
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => {
    markReady = resolve
  })

  const send = (msg: ToWorker) => worker?.postMessage(msg)

  function spawn() {
    const w = new Worker(workerEntry('webhooks/worker', 'webhook worker'))
    worker = w
    w.addEventListener('message', (e: MessageEvent<FromWorker>) => {
      const msg = e.data
      switch (msg.type) {
        case 'ready':
          alive = true
          lastPong = performance.now()
          restartDelay = 1000
          markReady()
          return
        case 'pong':
          lastPong = performance.now()
          return
        case 'attempted': {
          const list = waiters.get(msg.deliveryId)
          waiters.delete(msg.deliveryId)
          for (const resolve of list ?? []) resolve(msg.attempt)
          return
        }
        case 'log':
          logger.log(msg.level, msg.msg, msg.fields)
          return
        case 'attempts':
          for (const a of msg.attempts) {
            opts.metrics?.webhookDeliveries.inc([a.result])
            logger.info(WEBHOOK_ATTEMPT_MSG, { result: a.result, ...a.fields })
          }
          return
        case 'stopped':
          onStopped?.()
          return
      }
    })
    w.addEventListener('error', (e) => {
      logger.error('webhook worker crashed', { error: String((e as ErrorEvent).message ?? e) })
      alive = false
      w.terminate()
      if (worker === w) worker = null
      if (stopping === null) {
        setTimeout(() => {
          if (stopping === null) spawn()
        }, restartDelay).unref?.()
        restartDelay = Math.min(restartDelay * 2, 30_000)
      }
    })
    w.postMessage({ type: 'init', settings: workerSettings(config, dbPath, manual ? clock.now() : null) } satisfies ToWorker)
    // The HTTP server keeps the process alive; the worker alone must not (tests, CLI).
    ;(w as unknown as { unref?: () => void }).unref?.()
  }

  let liveness: ReturnType<typeof setInterval> | undefined
  // Stops listening for other instances' signals (PostgreSQL); set once listening.
  let unlisten: (() => Promise<void>) | null = null

  /** Wakes this process's worker thread; many calls in one tick wake it once. */
  function wakeOwn() {
    if (wakeQueued || stopping !== null) return
    wakeQueued = true
    queueMicrotask(() => {
      wakeQueued = false
      send(manual ? { type: 'wake', nowMs: clock.now() } : { type: 'wake' })
    })
  }

  return {
    ready,
    start() {
      if (worker || stopping !== null || liveness) return
      spawn()
      liveness = setInterval(() => send({ type: 'ping' }), LIVENESS_INTERVAL_MS)
      liveness.unref?.()
      // An event enqueued on another instance (whose worker may be busy or stopped) wakes this one.
      if (store.engine === 'postgres') routeListenWarnings(logger)
      store.listenWebhookQueue(wakeOwn).then(
        (stop) => {
          if (stopping === null) unlisten = stop
          else void stop().catch(() => {})
        },
        (err) => logger.warn('webhook worker cannot hear other instances; it looks at the queue every minute', { error: String(err) }),
      )
    },
    wake() {
      // Every instance's worker hears it (PostgreSQL NOTIFY), even while this one is busy or stopping.
      store.signalWebhookQueue()
      wakeOwn()
    },
    status: () => queueStatus(store, clock, alive && worker !== null && performance.now() - lastPong < LIVENESS_INTERVAL_MS * 3),
    waitForAttempt(deliveryId, timeoutMs) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          const list = waiters.get(deliveryId)?.filter((r) => r !== done)
          if (list?.length) waiters.set(deliveryId, list)
          else waiters.delete(deliveryId)
          resolve(null)
        }, timeoutMs)
        const done = (a: AttemptSummary | null) => {
          clearTimeout(timer)
          resolve(a)
        }
        waiters.set(deliveryId, [...(waiters.get(deliveryId) ?? []), done])
        send({ type: 'watch', deliveryId })
      })
    },
    stop() {
      stopping ??= (async () => {
        clearInterval(liveness)
        await unlisten?.().catch(() => {})
        unlisten = null
        const w = worker
        if (!w) return
        // Under the timeout, so attempts still waiting are handed back rather than counted as timeouts.
        const graceMs = Math.min(Math.floor(config.webhookTimeoutMs / 2), 3000)
        await new Promise<void>((resolve) => {
          onStopped = resolve
          const forced = setTimeout(resolve, graceMs + 2000)
          forced.unref?.()
          w.postMessage({ type: 'stop', graceMs } satisfies ToWorker)
        })
        w.terminate()
        // Rows it handed back are due now: the other instances' workers take them at once.
        store.signalWebhookQueue()
        worker = null
        alive = false
        for (const [, list] of waiters) for (const resolve of list) resolve(null)
        waiters.clear()
      })()
      return stopping
    },
  }
}
