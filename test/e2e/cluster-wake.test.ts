/**
 * Idle webhook workers are woken across instances: two servers (startServer) on one PostgreSQL
 * database. A delivery that A's stopping worker hands back, and an event enqueued through A while
 * A's worker is stopped, are delivered by B's idle worker within about a second (PostgreSQL NOTIFY,
 * LISTEN in every dispatcher), not at B's idle check a minute later. Runs when
 * MLC_TEST_DATABASE_URL is set.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { loadConfig } from '../../src/config'
import { silentLogger } from '../../src/log'
import { createToken } from '../../src/modules/tokens/service'
import { type RunningServer, startServer } from '../../src/server'
import { freshPostgresDatabase, TEST_DATABASE_URL, type TestDatabase } from '../db/postgres/harness'
import { tempDir } from '../helpers'

describe.skipIf(!TEST_DATABASE_URL)('webhook workers across instances', () => {
  let db: TestDatabase
  let a: RunningServer
  let b: RunningServer
  const dirs: string[] = []
  const received: { at: number; path: string; id: string | null; body: any }[] = []
  // The first request to /slow is held until the sender gives up on it.
  let slowHeld = false
  let receiver: ReturnType<typeof Bun.serve>

  /** A server on the test database; the worker's idle check stays at its minute. */
  async function serve(): Promise<RunningServer> {
    const dir = tempDir('mlc-cluster-wake-')
    dirs.push(dir)
    const config = loadConfig(
      {},
      { MLC_DATA_DIR: dir, MLC_DATABASE_URL: db.url, MLC_PORT: '0', MLC_HOST: '127.0.0.1', MLC_WEBHOOK_ALLOW_PRIVATE: '1', MLC_DATABASE_POOL_SIZE: '4' },
    )
    return startServer(config, { logger: silentLogger })
  }

  /** Waits until the server's worker thread reports ready. */
  async function workerUp(server: RunningServer) {
    for (let i = 0; i < 200; i++) {
      if ((await fetch(`${server.url}/readyz`)).status === 200) return
      await Bun.sleep(25)
    }
    throw new Error('worker did not start')
  }

  beforeAll(async () => {
    db = await freshPostgresDatabase({ migrate: false })
    receiver = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(req) {
        const path = new URL(req.url).pathname
        const body = await req.json()
        if (path === '/slow' && !slowHeld) {
          slowHeld = true
          await new Promise((resolve) => {
            req.signal.addEventListener('abort', resolve)
            setTimeout(resolve, 20_000)
          })
          return new Response('too late')
        }
        received.push({ at: performance.now(), path, id: req.headers.get('webhook-id'), body })
        return new Response('ok')
      },
    })
    // A alone first, so the first test knows which worker holds the slow delivery.
    a = await serve()
    await workerUp(a)
    token = (await createToken(a.store, { now: () => Date.now() }, { siteId: 1, scopes: 'read,write' })).token
  }, 60_000)

  let token = ''
  const headers = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' })
  /** A subscription to the receiver's `path` for pings, made through `server`. */
  async function subscribe(server: RunningServer, path: string): Promise<number> {
    const created = await fetch(`${server.url}/v1/webhook_subscriptions`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}${path}`, events: ['ping'] }),
    })
    expect(created.status).toBe(201)
    return ((await created.json()) as any).data.id
  }

  test("a delivery A's stopping worker hands back is sent by B's idle worker at once, not at a lease's or idle check's end", async () => {
    const sub = await subscribe(a, '/slow')
    const ping = fetch(`${a.url}/v1/webhook_subscriptions/${sub}?action=test`, { method: 'POST', headers: headers() })
    for (let i = 0; i < 200 && !slowHeld; i++) await Bun.sleep(10)
    expect(slowHeld).toBe(true)
    // B starts while A's attempt is in flight: the row is leased, B finds nothing due and sleeps.
    b = await serve()
    await workerUp(b)
    await Bun.sleep(200)
    // A's worker stops: the attempt is aborted after its grace (3 s) and the row handed back.
    await a.app.webhooks.stop()
    const stopped = performance.now()
    for (let i = 0; i < 100 && received.length === 0; i++) await Bun.sleep(20)
    expect(received).toHaveLength(1)
    expect(received[0]?.path).toBe('/slow')
    expect((received[0]?.at ?? Number.POSITIVE_INFINITY) - stopped).toBeLessThan(1000)
    await ping
    received.length = 0
  }, 30_000)

  afterAll(async () => {
    await a?.stop()
    await b?.stop()
    receiver?.stop(true)
    await db?.drop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  test("an event enqueued through A while A's worker is stopped is delivered by B's idle worker within a second", async () => {
    const sub = { id: await subscribe(a, '/hook') }
    const h = headers()
    // B's worker has looked at the queue (nothing due) and sleeps until its idle check, a minute away.
    await Bun.sleep(300)
    await a.app.webhooks.stop()
    expect((await fetch(`${a.url}/readyz`)).status).toBe(503)

    const sent = performance.now()
    // The test action waits for its own worker's first attempt (none here): not awaited.
    const ping = fetch(`${a.url}/v1/webhook_subscriptions/${sub.id}?action=test`, { method: 'POST', headers: h })
    for (let i = 0; i < 100 && received.length === 0; i++) await Bun.sleep(20)
    expect(received).toHaveLength(1)
    expect((received[0]?.at ?? Number.POSITIVE_INFINITY) - sent).toBeLessThan(1000)
    expect(received[0]?.body.event).toBe('ping')
    // Delivered once, recorded by B: visible through either instance.
    const answer = (await (await ping).json()) as any
    const delivery = (await (await fetch(`${b.url}/v1/webhook_deliveries/${answer.data.delivery_id}`, { headers: h })).json()) as any
    expect(delivery.data.status).toBe('succeeded')
    await Bun.sleep(200)
    expect(received).toHaveLength(1)
  }, 30_000)
})
