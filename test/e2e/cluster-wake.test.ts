/**
 * Idle webhook workers are woken across instances: two servers (startServer) on one PostgreSQL
 * database. An event enqueued through instance A while A's worker is stopped is delivered by B's
 * idle worker within about a second (PostgreSQL NOTIFY after the commit, LISTEN in every
 * dispatcher), not at B's idle check a minute later. Runs when MLC_TEST_DATABASE_URL is set.
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
  const received: { at: number; id: string | null; body: any }[] = []
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
        received.push({ at: performance.now(), id: req.headers.get('webhook-id'), body: await req.json() })
        return new Response('ok')
      },
    })
    // Both start on the empty database: one migrates, the other waits for it.
    ;[a, b] = await Promise.all([serve(), serve()])
    await Promise.all([workerUp(a), workerUp(b)])
  }, 60_000)

  afterAll(async () => {
    await a?.stop()
    await b?.stop()
    receiver?.stop(true)
    await db?.drop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  test("an event enqueued through A while A's worker is stopped is delivered by B's idle worker within a second", async () => {
    const { token } = await createToken(a.store, { now: () => Date.now() }, { siteId: 1, scopes: 'read,write' })
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const created = await fetch(`${a.url}/v1/webhook_subscriptions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/hook`, events: ['ping'] }),
    })
    expect(created.status).toBe(201)
    const sub = ((await created.json()) as any).data
    // B's worker has looked at the queue (nothing due) and sleeps until its idle check, a minute away.
    await Bun.sleep(300)
    await a.app.webhooks.stop()
    expect((await fetch(`${a.url}/readyz`)).status).toBe(503)

    const sent = performance.now()
    // The test action waits for its own worker's first attempt (none here): not awaited.
    const ping = fetch(`${a.url}/v1/webhook_subscriptions/${sub.id}?action=test`, { method: 'POST', headers })
    for (let i = 0; i < 100 && received.length === 0; i++) await Bun.sleep(20)
    expect(received).toHaveLength(1)
    expect((received[0]?.at ?? Number.POSITIVE_INFINITY) - sent).toBeLessThan(1000)
    expect(received[0]?.body.event).toBe('ping')
    // Delivered once, recorded by B: visible through either instance.
    const answer = (await (await ping).json()) as any
    const delivery = (await (await fetch(`${b.url}/v1/webhook_deliveries/${answer.data.delivery_id}`, { headers })).json()) as any
    expect(delivery.data.status).toBe('succeeded')
    await Bun.sleep(200)
    expect(received).toHaveLength(1)
  }, 30_000)
})
