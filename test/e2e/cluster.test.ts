/**
 * The cluster: two built binaries (dist/mlc, compiled into a temp folder) on one PostgreSQL
 * database and one Redis, behind an nginx on loopback (its own config, pid and log files in a temp
 * folder, `daemon off`, started here and stopped by pid). Shows what docs/operations.md "More than
 * one machine" promises: both instances come up on an empty database; a token created with the
 * CLI works through nginx on both; requests spread over both pass exactly the bucket's capacity; a
 * revoke is refused on both within a second; 2,000 webhook events are delivered by both workers,
 * each exactly once; `kill -9` of one instance in the middle of a burst loses no event.
 *
 * Runs when MLC_TEST_DATABASE_URL and MLC_TEST_REDIS_URL are set and Debian's nginx is installed
 * (.ci/run does all three).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Subprocess, spawn, spawnSync } from 'bun'
import type { Clock } from '../../src/clock'
import { postgresStoreOver } from '../../src/db/postgres/store'
import type { Store } from '../../src/db/store'
import { enqueueEvent } from '../../src/webhooks/enqueue'
import { freshPostgresDatabase, TEST_DATABASE_URL, type TestDatabase } from '../db/postgres/harness'
import { freePort, tempDir } from '../helpers'
import { TEST_REDIS_URL, testKeyPrefix } from '../shared/redis-server'
import { type ServerProcess, startServerProcess, withoutSourceTree } from './server'

const NGINX = Bun.which('nginx') ?? (Bun.file('/usr/sbin/nginx').size > 0 ? '/usr/sbin/nginx' : null)
const ROOT = new URL('../..', import.meta.url).pathname
const clock: Clock = { now: () => Date.now() }

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL || !NGINX)('two binaries behind nginx on PostgreSQL and Redis', () => {
  const dir = tempDir('mlc-cluster-')
  const bin = join(dir, 'mlc')
  let db: TestDatabase
  let env: Record<string, string>
  let one: ServerProcess
  let two: ServerProcess
  let nginx: Subprocess
  let front = ''
  let store: Store
  let receiver: ReturnType<typeof Bun.serve>
  /** Every webhook request received: webhook-id and the event's id. */
  const received: { webhookId: string; eventId: string }[] = []
  let receiveDelayMs = 0

  /** The CLI of the built binary against the cluster's database. */
  const cli = (...args: string[]) => spawnSync([bin, ...args], { env, cwd: dir })

  beforeAll(async () => {
    const built = spawnSync([process.execPath, 'scripts/build.ts', '--outdir', dir], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
    if (built.exitCode !== 0) throw new Error(`build failed: ${built.stderr.toString()}`)
    db = await freshPostgresDatabase({ migrate: false })
    receiver = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(req) {
        const body = (await req.json()) as { id: string }
        if (receiveDelayMs) await Bun.sleep(receiveDelayMs)
        received.push({ webhookId: req.headers.get('webhook-id') ?? '', eventId: body.id })
        return new Response('ok')
      },
    })
    env = {
      ...(process.env as Record<string, string>),
      MLC_DATABASE_URL: db.url,
      MLC_DATABASE_POOL_SIZE: '5',
      MLC_REDIS_URL: TEST_REDIS_URL,
      MLC_REDIS_KEY_PREFIX: testKeyPrefix('cluster'),
      MLC_TRUST_PROXY: '1',
      MLC_WEBHOOK_ALLOW_PRIVATE: '1',
      // A lease of 7 s: a killed instance's claims come back within the test's patience.
      MLC_WEBHOOK_TIMEOUT_MS: '2000',
      MLC_METRICS: '1',
      MLC_LOG_LEVEL: 'warn',
    }
    // Both start at once on the empty database: one migrates and creates site 1, the other waits.
    ;[one, two] = await Promise.all([
      startServerProcess(join(dir, 'd1'), { cmd: withoutSourceTree([bin, 'serve']), env: { ...env, MLC_INSTANCE_ID: 'one' }, startTimeoutMs: 30_000 }),
      startServerProcess(join(dir, 'd2'), { cmd: withoutSourceTree([bin, 'serve']), env: { ...env, MLC_INSTANCE_ID: 'two' }, startTimeoutMs: 30_000 }),
    ])
    // nginx on loopback: round robin over both, the upstream that answered in a header.
    const ng = join(dir, 'nginx')
    mkdirSync(ng, { recursive: true })
    chmodSync(ng, 0o777)
    const port = freePort()
    front = `http://127.0.0.1:${port}`
    const conf = join(ng, 'nginx.conf')
    writeFileSync(
      conf,
      `daemon off;
worker_processes 1;
pid ${ng}/nginx.pid;
error_log ${ng}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${ng}/body;
  proxy_temp_path ${ng}/proxy;
  fastcgi_temp_path ${ng}/fastcgi;
  uwsgi_temp_path ${ng}/uwsgi;
  scgi_temp_path ${ng}/scgi;
  upstream mlc {
    server 127.0.0.1:${one.port} max_fails=1 fail_timeout=2s;
    server 127.0.0.1:${two.port} max_fails=1 fail_timeout=2s;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://mlc;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_next_upstream error timeout http_502 http_503;
      add_header X-Upstream $upstream_addr always;
    }
  }
}
`,
    )
    nginx = spawn([NGINX as string, '-e', `${ng}/error.log`, '-c', conf, '-p', ng], { stdout: 'ignore', stderr: 'pipe' })
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${front}/healthz`)).ok) break
      } catch {}
      if (i > 100 || nginx.exitCode !== null) throw new Error(`nginx did not start: ${await Bun.file(`${ng}/error.log`).text()}`)
      await Bun.sleep(50)
    }
    store = postgresStoreOver(
      (await import('../../src/db/postgres/connection')).openPostgres({ url: db.url, poolSize: 4, statementTimeoutMs: 30_000, prepare: true }),
    )
  }, 120_000)

  afterAll(async () => {
    if (nginx) {
      nginx.kill('SIGTERM')
      await nginx.exited
    }
    await one?.stop()
    if (two && two.proc.exitCode === null) await two.stop()
    receiver?.stop(true)
    await store?.close()
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  /** A token made with the CLI of the built binary. */
  function cliToken(): { id: number; token: string } {
    const made = cli('token', 'create', '--site', '1', '--scopes', 'read,write', '--json')
    expect(made.exitCode).toBe(0)
    return JSON.parse(made.stdout.toString())
  }

  test('both instances came up on the empty database and are ready, each naming itself', async () => {
    for (const [server, name] of [
      [one, 'one'],
      [two, 'two'],
    ] as const) {
      let body: any = null
      for (let i = 0; i < 100; i++) {
        const res = await fetch(`${server.url}/readyz`)
        body = await res.json()
        if (res.status === 200) break
        await Bun.sleep(50)
      }
      expect(body.data).toMatchObject({ status: 'ready', instance: name, database: { engine: 'postgres', writable: true }, redis: 'ok' })
    }
  })

  test('a token created with the CLI works through nginx on both instances', async () => {
    const { token } = cliToken()
    const upstreams = new Set<string>()
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${front}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
      upstreams.add(res.headers.get('x-upstream') ?? '')
    }
    expect([...upstreams].sort()).toEqual([`127.0.0.1:${one.port}`, `127.0.0.1:${two.port}`].sort())
  })

  test("requests spread over both instances pass exactly the bucket's capacity", async () => {
    const { token } = cliToken()
    const statuses: number[] = []
    const upstreams = new Set<string>()
    let limit = 0
    // 150 requests, 10 at a time: well within the minute the bucket needs to refill.
    for (let round = 0; round < 15; round++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(`${front}/v1/tags`, { headers: { authorization: `Bearer ${token}` } })))
      for (const res of answers) {
        statuses.push(res.status)
        upstreams.add(res.headers.get('x-upstream') ?? '')
        limit = Number(res.headers.get('x-ratelimit-limit') ?? limit)
        await res.arrayBuffer()
      }
    }
    expect(limit).toBeGreaterThan(0)
    expect(limit).toBeLessThan(150)
    expect(statuses.filter((s) => s === 200)).toHaveLength(limit)
    expect(statuses.filter((s) => s === 429)).toHaveLength(150 - limit)
    expect(upstreams.size).toBe(2)
  })

  test('a token revoked with the CLI is refused by both instances within a second', async () => {
    const { id, token } = cliToken()
    const on = (server: ServerProcess) => fetch(`${server.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })
    expect((await on(one)).status).toBe(200)
    expect((await on(two)).status).toBe(200)
    expect(cli('token', 'revoke', String(id)).exitCode).toBe(0)
    const revoked = performance.now()
    for (const server of [one, two]) {
      while ((await on(server)).status !== 401) {
        expect(performance.now() - revoked).toBeLessThan(1000)
        await Bun.sleep(20)
      }
    }
    expect(performance.now() - revoked).toBeLessThan(1000)
  })

  test('a widget socket on instance one receives the agent reply posted through instance two', async () => {
    const { token } = cliToken()
    const siteKey = JSON.parse(cli('site', 'list', '--json').stdout.toString())[0].publishable_key as string
    const call = async (server: ServerProcess, method: string, path: string, body: unknown, auth?: string) => {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as any }
    }
    const visitor = { site_key: siteKey, anon_id: `cluster-${Date.now()}` }
    const opened = await call(one, 'POST', '/v1/widget/sessions', visitor)
    expect(opened.status).toBe(201)
    const sid: string = opened.body.data.session_id
    const frames: any[] = []
    const ws = new WebSocket(`${one.url.replace('http', 'ws')}/v1/widget/ws?session_id=${sid}&site_key=${siteKey}&anon_id=${visitor.anon_id}`)
    ws.onmessage = (e) => frames.push(JSON.parse(String(e.data)))
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve()
      ws.onerror = () => reject(new Error('widget socket did not open'))
    })
    try {
      const asked = await call(one, 'POST', `/v1/widget/sessions/${sid}/messages`, { ...visitor, text: 'I want to talk to a human' })
      expect(asked.body.data.status).toBe('waiting_human')
      const reply = await call(two, 'POST', '/v1/messages', { session_id: sid, text: 'Hello from instance two' }, token)
      expect(reply.status).toBe(201)
      const deadline = performance.now() + 3000
      while (!frames.some((f) => f.type === 'message' && f.message?.id === reply.body.data.id) && performance.now() < deadline) await Bun.sleep(20)
      const pushed = frames.find((f) => f.type === 'message' && f.message?.id === reply.body.data.id)
      expect(pushed?.message).toMatchObject({ role: 'agent', text: 'Hello from instance two' })
      expect(frames.filter((f) => f.type === 'message' && f.message?.id === reply.body.data.id)).toHaveLength(1)
    } finally {
      ws.close()
    }
  })

  /** The receiver's subscriptions: eight, so the per-subscription limits (16) let more than one worker's 64 run. */
  const subscriptions: number[] = []

  /** Enqueues `count` ping events spread over the subscriptions (one delivery each), 100 per transaction, and signals the workers. */
  async function enqueuePings(count: number): Promise<string[]> {
    const ids: string[] = []
    for (let done = 0; done < count; done += 100) {
      await store.transaction(async (tx) => {
        for (let i = done; i < Math.min(count, done + 100); i++) {
          const subscriptionId = subscriptions[i % subscriptions.length] as number
          ids.push((await enqueueEvent(tx, clock, { siteId: 1, type: 'ping', payload: { n: i }, subscriptionId })).eventId)
        }
      })
      store.signalWebhookQueue()
    }
    return ids
  }

  /** Successful deliveries an instance's worker counted (its /metrics). */
  async function delivered(server: ServerProcess): Promise<number> {
    const text = await (await fetch(`${server.url}/metrics`)).text()
    const m = /^mlc_webhook_deliveries_total\{result="success"[^}]*\} (\d+)$/m.exec(text)
    return Number(m?.[1] ?? 0)
  }

  /** Waits until every id was received at least once, or `ms` passed. */
  async function allReceived(ids: string[], ms: number): Promise<Set<string>> {
    const want = new Set(ids)
    const deadline = performance.now() + ms
    for (;;) {
      const got = new Set(received.filter((r) => want.has(r.eventId)).map((r) => r.eventId))
      if (got.size === want.size || performance.now() > deadline) return got
      await Bun.sleep(50)
    }
  }

  test('2,000 webhook events are delivered by both workers, each exactly once', async () => {
    const { token } = cliToken()
    for (let i = 0; i < 8; i++) {
      const sub = await fetch(`${front}/v1/webhook_subscriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/hook/${i}`, events: ['ping'] }),
      })
      expect(sub.status).toBe(201)
      subscriptions.push(((await sub.json()) as any).data.id)
    }
    // A receiver that takes a few milliseconds: one worker's 64 slots cannot keep up alone.
    receiveDelayMs = 5
    const before = [await delivered(one), await delivered(two)]
    const ids = await enqueuePings(2000)
    const got = await allReceived(ids, 60_000)
    expect(got.size).toBe(2000)
    await Bun.sleep(300)
    const mine = received.filter((r) => got.has(r.eventId))
    expect(mine).toHaveLength(2000)
    expect(new Set(mine.map((r) => r.webhookId)).size).toBe(2000)
    const byOne = (await delivered(one)) - (before[0] as number)
    const byTwo = (await delivered(two)) - (before[1] as number)
    expect(byOne).toBeGreaterThan(0)
    expect(byTwo).toBeGreaterThan(0)
    expect(byOne + byTwo).toBe(2000)
  }, 90_000)

  test('kill -9 of one instance in the middle of a burst loses no event (duplicates only of attempts in flight, same webhook-id)', async () => {
    receiveDelayMs = 10
    const start = received.length
    const ids = await enqueuePings(1000)
    while (received.length - start < 250) await Bun.sleep(10)
    two.proc.kill('SIGKILL')
    await two.proc.exited
    // The rows it had claimed come back when their lease (7 s) ends; instance one sends them.
    const got = await allReceived(ids, 45_000)
    expect(got.size).toBe(1000)
    await Bun.sleep(500)
    const mine = received.slice(start).filter((r) => ids.includes(r.eventId))
    const perEvent = new Map<string, Set<string>>()
    for (const r of mine) perEvent.set(r.eventId, (perEvent.get(r.eventId) ?? new Set()).add(r.webhookId))
    // A duplicate is the same delivery sent again: one webhook-id per event.
    for (const hooks of perEvent.values()) expect(hooks.size).toBe(1)
    // At most the attempts the killed worker had in flight (its concurrency) are sent twice.
    expect(mine.length - 1000).toBeLessThanOrEqual(64)
    // The survivor serves through nginx alone.
    expect((await fetch(`${front}/healthz`)).status).toBe(200)
  }, 90_000)
})
