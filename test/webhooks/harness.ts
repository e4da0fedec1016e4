/** Webhook test plumbing: an app with a real worker thread, and a loopback receiver that records requests. */
import { systemClock } from '../../src/clock'
import { databasePath } from '../../src/db/data-dir'
import { silentLogger } from '../../src/log'
import { createWorkerDispatcher } from '../../src/webhooks/dispatcher'
import { createTestApp, type TestApp } from '../helpers'

export interface Received {
  method: string
  path: string
  headers: Record<string, string>
  body: string
  atMs: number
}

export interface Receiver {
  url: string
  port: number
  received: Received[]
  /** Sets how the receiver answers (default 200 "ok"). */
  respond(fn: (req: Received, n: number) => Response | Promise<Response>): void
  /** Resolves once `n` requests arrived; throws after `ms`. */
  waitFor(n: number, ms?: number): Promise<Received[]>
  stop(): void
}

/** A Bun.serve on 127.0.0.1 (port 0) that records every request with its raw body. */
export function startReceiver(): Receiver {
  const received: Received[] = []
  let answer: (req: Received, n: number) => Response | Promise<Response> = () => new Response('ok')
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const r: Received = {
        method: req.method,
        path: new URL(req.url).pathname,
        headers: Object.fromEntries(req.headers),
        body: await req.text(),
        atMs: Date.now(),
      }
      received.push(r)
      return answer(r, received.length)
    },
  })
  const port = server.port as number
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    respond(fn) {
      answer = fn
    },
    async waitFor(n, ms = 5000) {
      const deadline = Date.now() + ms
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`receiver got ${received.length} of ${n} requests within ${ms} ms`)
        await Bun.sleep(5)
      }
      return received
    },
    stop: () => void server.stop(true),
  }
}

export interface WebhookTestApp extends TestApp {
  /** Stops the worker, then removes the data dir. */
  close(): Promise<void>
}

/**
 * createTestApp with a real delivery worker thread (private addresses allowed: receivers are on
 * loopback). The worker follows the test's ManualClock (moved by `wake()`), or with `realClock`
 * the wall clock, for tests of its own timers.
 */
export async function createWebhookTestApp(env: Record<string, string> = {}, opts: { realClock?: boolean } = {}): Promise<WebhookTestApp> {
  const t = await createTestApp(
    { MLC_WEBHOOK_ALLOW_PRIVATE: '1', MLC_WEBHOOK_TIMEOUT_MS: '2000', ...env },
    {
      webhooks: ({ store, clock, config, dataDir }) => {
        const d = createWorkerDispatcher({ config, dbPath: databasePath(dataDir), store, clock: opts.realClock ? systemClock : clock, logger: silentLogger })
        d.start()
        return d
      },
    },
  )
  if (opts.realClock) t.clock.set(Date.now())
  await (t.app.webhooks as { ready?: Promise<void> }).ready
  return Object.assign(t, {
    async close() {
      await t.app.webhooks.stop()
      await t.cleanup()
    },
  })
}

export { until } from '../helpers'

/** The product page's verify-webhook.js, loaded from its verbatim copy. */
export const seedVerify: (rawBody: string, headerSig: string, secret: string) => boolean = require('./fixtures/verify-webhook.cjs')
