/**
 * Crash recovery: a real server is killed with SIGKILL while deliveries are in flight and more
 * are queued; after a restart on the same data dir every unfinished delivery is sent (at least
 * once, same webhook-id), the in-flight ones once their lease runs out.
 */
import { afterAll, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { systemClock } from '../../src/clock'
import { openSqliteStore } from '../../src/db/sqlite/store'
import { enqueueEvent } from '../../src/webhooks/enqueue'
import { tempDir } from '../helpers'
import { startReceiver } from '../webhooks/harness'
import { runCli, type ServerProcess, startServerProcess } from './server'

const dataDir = tempDir('mlc-crash-')
const rx = startReceiver()
let server: ServerProcess | null = null
afterAll(async () => {
  await server?.stop('SIGKILL')
  rx.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

const env = {
  ...process.env,
  MLC_LOG_LEVEL: 'warn',
  MLC_WEBHOOK_ALLOW_PRIVATE: '1',
  // Lease = timeout + 5 s: the rows in flight at the kill are claimable again 6 s after they were claimed.
  MLC_WEBHOOK_TIMEOUT_MS: '1000',
  MLC_WEBHOOK_CONCURRENCY: '5',
} as Record<string, string>

test('kill -9 mid-delivery loses nothing: after a restart every unfinished delivery is sent', async () => {
  server = await startServerProcess(dataDir, { env })
  const created = await runCli(['token', 'create', '--site', '1', '--scopes', 'read,write', '--json', '--data-dir', dataDir])
  expect(created.code).toBe(0)
  const { token } = JSON.parse(created.stdout)
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }

  // Phase 1: the receiver takes requests and never answers.
  let answering = false
  let unblock: () => void = () => {}
  const blocked = new Promise<void>((r) => {
    unblock = r
  })
  rx.respond(async () => {
    if (!answering) await blocked
    return new Response('ok')
  })
  const sub = await fetch(`${server.url}/v1/webhook_subscriptions`, { method: 'POST', headers: auth, body: JSON.stringify({ url: rx.url, events: ['*'] }) })
  expect(sub.status).toBe(201)

  // Twenty events committed by another writer (as the chat engine would), then a test ping that wakes the worker.
  const store = openSqliteStore(dataDir)
  const eventIds = new Set(
    await store.transaction(async (tx) => {
      const ids: string[] = []
      for (let n = 0; n < 20; n++) ids.push((await enqueueEvent(tx, systemClock, { siteId: 1, type: 'handoff', payload: { n } })).eventId)
      return ids
    }),
  )
  await store.close()
  const subId = ((await sub.json()) as any).data.id
  fetch(`${server.url}/v1/webhook_subscriptions/${subId}?action=test`, { method: 'POST', headers: auth }).catch(() => {})
  await rx.waitFor(5, 5000)
  await Bun.sleep(100)
  expect(rx.received).toHaveLength(5)
  const inFlightAtKill = new Set(rx.received.map((r) => r.headers['webhook-id']))

  expect(await server.stop('SIGKILL')).not.toBe(0)
  const killedAt = Date.now()

  const after = openSqliteStore(dataDir)
  const rows = await after.webhooks.listDeliveries(1, { subscriptionId: null, status: null, event: null, beforeSeq: null, limit: 100 })
  await after.close()
  expect(rows).toHaveLength(21)
  expect(rows.every((r) => r.status === 'pending' && r.attempts === 0)).toBe(true)
  expect(rows.filter((r) => r.lease_until_ms !== null)).toHaveLength(5)
  for (const r of rows) if (r.event === 'ping') eventIds.add(r.event_id)

  // Phase 2: the receiver answers; the server comes back on the same data dir.
  answering = true
  unblock()
  const before = rx.received.length
  server = await startServerProcess(dataDir, { env })
  const deadline = Date.now() + 20_000
  const seenAfter = () => new Set(rx.received.slice(before).map((r) => r.headers['webhook-id']))
  while (seenAfter().size < 21 && Date.now() < deadline) await Bun.sleep(50)
  expect(seenAfter()).toEqual(eventIds)
  // The 16 never claimed go out at once; the 5 claimed before the kill wait for their lease.
  const firstSeen = new Map<string, number>()
  for (const r of rx.received.slice(before)) if (!firstSeen.has(r.headers['webhook-id'] as string)) firstSeen.set(r.headers['webhook-id'] as string, r.atMs)
  for (const id of inFlightAtKill) expect((firstSeen.get(id as string) as number) - killedAt).toBeGreaterThan(3000)

  const list = async () =>
    ((await (await fetch(`${server?.url}/v1/webhook_deliveries?status=succeeded&limit=100`, { headers: auth })).json()) as any).data as unknown[]
  const until = Date.now() + 5000
  while ((await list()).length < 21 && Date.now() < until) await Bun.sleep(50)
  expect(await list()).toHaveLength(21)
  expect(await server.stop()).toBe(0)
  server = null
}, 45_000)
