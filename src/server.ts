/**
 * Runs the server: opens the data dir, creates site 1 on first start, restores rate-limit
 * buckets, serves HTTP, flushes counters and buckets in the background, and shuts down
 * gracefully on SIGTERM/SIGINT (stop accepting, finish in-flight requests, flush, close).
 */
import { createApp, publicUrlOf } from './app'
import { closeInactiveSessions } from './chat/sessions'
import { type Clock, systemClock } from './clock'
import type { Config } from './config'
import { createSetupLink } from './dashboard/accounts'
import { databasePath } from './db/open'
import { openStore, type Store } from './db/store'
import { type SocketData, WS_PATHS } from './http/websocket'
import { createLogger, type Logger } from './log'
import { ensureFirstSite } from './modules/sites/service'
import { createWorkerDispatcher } from './webhooks/dispatcher'

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
  const clock = opts.clock ?? systemClock
  const logger = opts.logger ?? createLogger({ level: config.logLevel as never, format: config.logFormat })
  const store = openStore(config.dataDir)
  const firstSite = ensureFirstSite(store, clock)
  if (firstSite) logger.info('created site 1 on first start', { site_id: firstSite.id, publishable_key: firstSite.publishable_key })

  // Webhook delivery runs in its own thread with its own connection to the same file.
  const webhooks = createWorkerDispatcher({ config, dbPath: databasePath(config.dataDir), store, clock, logger })
  const app = createApp({ config, store, clock, logger, webhooks })
  app.buckets.restore(store.rateBuckets.loadAll())

  const flush = () => {
    try {
      app.usage.flush()
      const dirty = app.buckets.takeDirty()
      if (dirty.length) store.rateBuckets.save(dirty)
      app.buckets.sweep()
    } catch (err) {
      logger.error('flush failed; will retry', { error: String(err) })
    }
  }
  const flushTimer = setInterval(flush, config.flushIntervalMs)
  // Pick up token changes made by the CLI even when no request arrives to trigger the check.
  const epochTimer = setInterval(() => app.authenticator.checkEpoch(), 500)

  // Close chats nobody wrote in for MLC_CHAT_INACTIVITY_TIMEOUT seconds.
  const sweepTimer = setInterval(() => {
    try {
      const closed = closeInactiveSessions(app.chat)
      if (closed > 0) logger.info('closed inactive chat sessions', { closed })
    } catch (err) {
      logger.error('chat inactivity sweep failed; will retry', { error: String(err) })
    }
  }, config.chatSweepIntervalMs)

  const server = Bun.serve<SocketData>({
    port: config.port,
    hostname: config.host,
    // Bodies over 1 MiB are refused by our parser with an enveloped 413; Bun's own cap sits above it.
    maxRequestBodySize: 8 * 1024 * 1024,
    fetch: (req, srv) => {
      const ip = srv.requestIP(req)?.address ?? 'unknown'
      // The realtime channels are upgraded here, before Elysia (see src/http/websocket.ts).
      if (req.method === 'GET' && WS_PATHS.has(new URL(req.url).pathname)) return app.realtime.upgrade(req, srv, ip)
      return app.handle(req, ip)
    },
    websocket: app.realtime.websocket,
    error: (err) => {
      logger.error('unhandled server error', { error: String(err), stack: err.stack })
      return new Response(JSON.stringify({ ok: false, error: { code: 'internal_error', message: 'Internal error.', request_id: 'none' } }), {
        status: 500,
        headers: { 'content-type': 'application/json' },
      })
    },
  })
  const url = config.publicUrl || `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${server.port}`
  logger.info('listening', { url, data_dir: config.dataDir, openapi: `${publicUrlOf({ ...config, port: server.port ?? config.port })}/v1/openapi` })
  // No dashboard admin yet: a one-time link (valid 1 h) creates the first one in the browser.
  const setupToken = createSetupLink(store, clock)
  if (setupToken) {
    logger.warn('no dashboard admin yet: open this one-time link within 1 hour to create one (or run `mlc admin create`)', {
      setup_url: `${url.replace(/\/$/, '')}/dashboard/setup?token=${setupToken}`,
    })
  }

  let stopping: Promise<void> | null = null
  const stop = () => {
    stopping ??= (async () => {
      logger.info('shutting down')
      clearInterval(flushTimer)
      clearInterval(epochTimer)
      clearInterval(sweepTimer)
      app.realtime.closeAll()
      // Finish requests in flight; connections still open after 8 s are closed so exit stays under 10 s.
      const forced = setTimeout(() => server.stop(true), 8000)
      await server.stop(false)
      clearTimeout(forced)
      // The worker finishes its attempts or hands its claimed deliveries back to the queue.
      await app.webhooks.stop()
      flush()
      store.close()
      logger.info('stopped')
    })()
    return stopping
  }
  return { url, port: server.port ?? config.port, store, app, stop }
}
