/** The compiled executable: copied alone into an empty folder, run with no Bun or Node on PATH. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'bun'
import { Webhook } from 'standardwebhooks'
import { freshPostgresDatabase, TEST_DATABASE_URL, type TestDatabase } from '../db/postgres/harness'
import { tempDir } from '../helpers'
import { startServerProcess, withoutSourceTree } from './server'

const ROOT = new URL('../..', import.meta.url).pathname
const dir = tempDir('mlc-bin-')
const bin = join(dir, 'mlc')
const emptyEnv = { PATH: join(dir, 'empty-path'), HOME: dir }

beforeAll(() => {
  const r = spawnSync([process.execPath, 'scripts/build.ts'], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`)
  mkdirSync(emptyEnv.PATH)
  copyFileSync(join(ROOT, 'dist/mlc'), bin)
}, 180_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('dist/mlc', () => {
  test('version runs without Bun or Node', () => {
    const r = spawnSync([bin, 'version'], { env: emptyEnv, cwd: dir })
    expect(r.exitCode).toBe(0)
    expect(r.stdout.toString()).toMatch(/^mlc \d+\.\d+\.\d+ \(commit \S+, built \d{4}-/)
  })

  test('reads no .env or bunfig.toml from the folder it runs in', () => {
    const folder = join(dir, 'with-dotfiles')
    mkdirSync(folder)
    writeFileSync(join(folder, '.env'), 'MLC_LOG_LEVEL=nonsense\n')
    writeFileSync(join(folder, 'bunfig.toml'), 'preload = ["./preload.ts"]\n')
    writeFileSync(join(folder, 'preload.ts'), 'console.log("PRELOADED")\n')
    // `site list` reads the config: an MLC_LOG_LEVEL taken from .env would make it fail.
    const r = spawnSync([bin, 'site', 'list', '--data-dir', join(folder, 'data')], { env: emptyEnv, cwd: folder })
    expect(r.stderr.toString()).toBe('')
    expect(r.exitCode).toBe(0)
    expect(r.stdout.toString()).not.toContain('PRELOADED')
  })

  test('serves /healthz and whoami with a token from its own CLI', async () => {
    const data = join(dir, 'data')
    const server = await startServerProcess(data, { cmd: withoutSourceTree([bin, 'serve']), env: emptyEnv })
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
      const created = spawnSync([bin, 'token', 'create', '--site', '1', '--scopes', 'read', '--json', '--data-dir', data], { env: emptyEnv, cwd: dir })
      expect(created.exitCode).toBe(0)
      const { token } = JSON.parse(created.stdout.toString())
      const who = await fetch(`${server.url}/v1/api.ashx?resource=whoami`, { headers: { authorization: `Bearer ${token}` } })
      expect(who.status).toBe(200)
      expect(((await who.json()) as any).data.scopes).toEqual(['read'])
      // The access log is written by its own thread, which the binary carries (src/log-thread.ts).
      await server.stop()
      expect(server.output()).toContain(`"request_id":"${who.headers.get('x-mlc-request-id')}"`)
      expect(server.output()).not.toContain('access log written on the request thread')
    } finally {
      await server.stop()
    }
  })

  test('serves the visitor SDK, the widget and /demo embedded in the binary (no sdk/dist beside it)', async () => {
    // Site 1 is a public demo, so /demo answers without signing in; other sites still need a session.
    const server = await startServerProcess(join(dir, 'data-assets'), {
      cmd: withoutSourceTree([bin, 'serve']),
      env: { ...emptyEnv, MLC_DEMO_PUBLIC_SITE: '1' },
    })
    try {
      for (const name of ['mlc-visitor-sdk.js', 'mlc-widget.js']) {
        const res = await fetch(`${server.url}/assets/js/${name}`)
        expect(res.status).toBe(200)
        expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]{16}(-gzip)?"$/)
        expect(await res.text()).toBe(await Bun.file(join(ROOT, 'sdk/dist', name)).text())
      }
      const demo = await fetch(`${server.url}/demo`)
      expect(demo.status).toBe(200)
      expect(await demo.text()).toContain('/assets/js/mlc-visitor-sdk.js')
      const other = await fetch(`${server.url}/demo?site=2`, { redirect: 'manual' })
      expect(other.status).toBe(303)
      expect(other.headers.get('location')).toBe('/dashboard/sign-in?next=%2Fdemo%3Fsite%3D2')
    } finally {
      await server.stop()
    }
  })

  test('is ready (worker thread inside), serves OpenAPI and the dashboard, answers its own healthcheck, backs up while serving', async () => {
    const data = join(dir, 'data-ops')
    const server = await startServerProcess(data, { cmd: withoutSourceTree([bin, 'serve']), env: emptyEnv })
    try {
      let ready = 0
      for (let i = 0; i < 100 && ready !== 200; i++) {
        ready = (await fetch(`${server.url}/readyz`)).status
        if (ready !== 200) await Bun.sleep(50)
      }
      expect(ready).toBe(200)
      // Every worker thread came from inside the binary (its source tree is hidden from it).
      expect(server.output()).not.toContain('checkpoint thread unavailable')
      expect(server.output()).not.toContain('worker crashed')
      const doc = (await (await fetch(`${server.url}/v1/openapi.json`)).json()) as { paths: Record<string, unknown> }
      expect(Object.keys(doc.paths)).toContain('/v1/tags')
      // The reference page's script comes from the binary itself (Scalar's npm bundle), not a CDN.
      const reference = await fetch(`${server.url}/v1/openapi`)
      expect(reference.status).toBe(200)
      expect(reference.headers.get('content-security-policy')).toStartWith("default-src 'none'; script-src 'self';")
      const src = /<script src="([^"]+)"/.exec(await reference.text())?.[1] ?? ''
      expect(src).toMatch(/^\/v1\/openapi\/scalar\.js\?v=[0-9a-f]{16}$/)
      const script = await fetch(`${server.url}${src}`)
      expect(script.status).toBe(200)
      expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
      expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
      const scalar = await Bun.file(join(ROOT, 'node_modules/@scalar/api-reference/dist/browser/standalone.js')).bytes()
      expect(Buffer.compare(new Uint8Array(await script.arrayBuffer()), scalar)).toBe(0)
      const page = await fetch(`${server.url}/dashboard/`)
      expect(page.status).toBe(200)
      expect(await page.text()).toContain('<html')
      const health = spawnSync([bin, 'healthcheck'], { env: { ...emptyEnv, MLC_PORT: String(server.port) }, cwd: dir })
      expect(health.exitCode).toBe(0)
      const backup = spawnSync([bin, 'backup', join(dir, 'ops-backup.db'), '--data-dir', data], { env: emptyEnv, cwd: dir })
      expect(backup.stderr.toString()).toBe('')
      expect(backup.exitCode).toBe(0)
    } finally {
      expect(await server.stop()).toBe(0)
    }
  })

  test('delivers a signed webhook from its worker thread to a loopback receiver', async () => {
    const data = join(dir, 'data-webhooks')
    const received: { headers: Headers; body: string }[] = []
    const rx = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: async (req) => {
        received.push({ headers: req.headers, body: await req.text() })
        return new Response('ok')
      },
    })
    const server = await startServerProcess(data, { cmd: withoutSourceTree([bin, 'serve']), env: { ...emptyEnv, MLC_WEBHOOK_ALLOW_PRIVATE: '1' } })
    try {
      const created = spawnSync([bin, 'token', 'create', '--site', '1', '--scopes', 'read,write', '--json', '--data-dir', data], { env: emptyEnv, cwd: dir })
      const { token } = JSON.parse(created.stdout.toString())
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
      const sub = (await (
        await fetch(`${server.url}/v1/webhook_subscriptions`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ url: `http://127.0.0.1:${rx.port}/in`, events: ['*'] }),
        })
      ).json()) as any
      const ping = (await (await fetch(`${server.url}/v1/webhook_subscriptions/${sub.data.id}?action=test`, { method: 'POST', headers })).json()) as any
      expect(ping.data).toMatchObject({ status: 'succeeded', attempt: { status_code: 200, error: null } })
      expect(received).toHaveLength(1)
      const req = received[0] as (typeof received)[0]
      expect(req.headers.get('webhook-id')).toBe(ping.data.event_id)
      const expected = `sha256=${new Bun.CryptoHasher('sha256', sub.data.secret).update(req.body).digest('hex')}`
      expect(req.headers.get('x-mlc-signature')).toBe(expected)
    } finally {
      await server.stop()
      rx.stop(true)
    }
  })
})

/**
 * The same binary on PostgreSQL (MLC_DATABASE_URL, an empty database it migrates itself): the
 * seed's curl quickstart, a chat that the bot hands to a human and the visitor rates, both events
 * delivered signed by the worker thread, the CLI on the same database, and `mlc backup` pointing to pg_dump.
 */
describe.skipIf(!TEST_DATABASE_URL)('dist/mlc on PostgreSQL', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await freshPostgresDatabase({ migrate: false })
  })
  afterAll(() => db?.drop())

  test('quickstart, chat with handoff and feedback, signed webhooks, CLI', async () => {
    const env = { ...emptyEnv, MLC_DATABASE_URL: db.url, MLC_WEBHOOK_ALLOW_PRIVATE: '1' }
    const data = join(dir, 'data-postgres')
    const cli = (...args: string[]) => spawnSync([bin, ...args], { env, cwd: dir })
    const received: { headers: Headers; body: string }[] = []
    const rx = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: async (req) => {
        received.push({ headers: req.headers, body: await req.text() })
        return new Response('ok')
      },
    })
    const server = await startServerProcess(data, { cmd: withoutSourceTree([bin, 'serve']), env })
    try {
      expect(server.output()).toContain('"engine":"postgres"')
      const created = cli('token', 'create', '--site', '1', '--scopes', 'read,write', '--json')
      expect(created.exitCode).toBe(0)
      const { token } = JSON.parse(created.stdout.toString())
      const api = async (method: string, path: string, body?: unknown, auth: string | null = token) => {
        const res = await fetch(`${server.url}${path}`, {
          method,
          headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
        return { status: res.status, body: (await res.json()) as any }
      }

      // The product page's quickstart: identify, then track, through the legacy URL form.
      const identify = await api('POST', '/v1/api.ashx?resource=visitors', { key: 'u_42', email: 'jay@example.com', name: 'Jay' })
      expect(identify.body).toMatchObject({ ok: true, data: { id: 1, key: 'u_42', email: 'jay@example.com', name: 'Jay' } })
      const track = await api('POST', '/v1/api.ashx?resource=track', { key: 'u_42', name: 'viewed_pricing' })
      expect(track.status).toBe(201)
      const visitor = await api('GET', '/v1/api.ashx?resource=visitors&key=u_42')
      expect(visitor.body.data.event_count).toBe(1)
      expect(visitor.body.data.events[0].name).toBe('viewed_pricing')

      // A chat: the bot answers from the knowledge base, hands off on request, the agent replies and closes, the visitor rates.
      const article = await api('POST', '/v1/kb_articles', {
        title: 'Reset your password',
        body: 'To reset your password, open Settings, choose Security and click "Reset password". We email you a link that works for one hour.',
      })
      expect(article.status).toBe(201)
      const sub = await api('POST', '/v1/webhook_subscriptions', { url: `http://127.0.0.1:${rx.port}/in`, events: ['handoff', 'feedback'] })
      expect(sub.status).toBe(201)
      const siteKey = JSON.parse(cli('site', 'list', '--json').stdout.toString())[0].publishable_key
      const widget = (method: string, path: string, body: Record<string, unknown> = {}) =>
        api(method, `/v1/widget${path}`, { site_key: siteKey, anon_id: 'anon-pg-1', ...body }, null)
      const opened = await widget('POST', '/sessions')
      expect(opened.status).toBe(201)
      const sid = opened.body.data.session_id
      const answer = await widget('POST', `/sessions/${sid}/messages`, { text: 'How do I reset my password?' })
      expect(answer.body.data.reply.role).toBe('ai')
      expect(answer.body.data.reply.text).toContain('Security')
      const handoff = await widget('POST', `/sessions/${sid}/messages`, { text: 'I want to talk to a human' })
      expect(handoff.body.data.status).toBe('waiting_human')
      expect((await api('POST', '/v1/messages', { session_id: sid, text: 'Hi, Sam here.' })).status).toBe(201)
      expect((await api('POST', `/v1/sessions/${sid}?action=close`)).status).toBe(200)
      expect((await widget('POST', `/sessions/${sid}/feedback`, { rating: 5, comment: 'Great help' })).status).toBe(201)
      const handoffs = await api('GET', '/v1/api.ashx?resource=handoffs')
      expect(handoffs.body.data[0]).toMatchObject({ session_id: sid, handoff_reason: 'visitor_requested' })
      const transcript = await api('GET', `/v1/api.ashx?resource=transcripts&sessionId=${sid}`)
      expect(transcript.body.data.messages.map((m: { role: string }) => m.role)).toEqual(['visitor', 'ai', 'visitor', 'system', 'agent', 'system'])

      // Both events arrive from the worker thread, each signed both ways with the subscription's secret.
      const deadline = Date.now() + 15_000
      while (received.length < 2 && Date.now() < deadline) await Bun.sleep(50)
      expect(received.map((r) => r.headers.get('x-mlc-event')).sort()).toEqual(['feedback', 'handoff'])
      const wh = new Webhook(sub.body.data.secret.slice('whsec_'.length))
      for (const r of received) {
        const expected = `sha256=${new Bun.CryptoHasher('sha256', sub.body.data.secret).update(r.body).digest('hex')}`
        expect(r.headers.get('x-mlc-signature')).toBe(expected)
        const verified = wh.verify(r.body, {
          'webhook-id': r.headers.get('webhook-id') as string,
          'webhook-timestamp': r.headers.get('webhook-timestamp') as string,
          'webhook-signature': r.headers.get('webhook-signature') as string,
        }) as Record<string, unknown>
        expect(verified.session_id).toBe(sid)
      }

      // The CLI sees the same database; a revoked token stops working within a second.
      const tokens = JSON.parse(cli('token', 'list', '--site', '1', '--json').stdout.toString())
      expect(tokens.find((t: { id: number }) => t.id === 1).request_count).toBeGreaterThanOrEqual(0)
      expect(cli('token', 'revoke', '1').exitCode).toBe(0)
      const revokedBy = Date.now() + 1500
      let status = 0
      while (Date.now() < revokedBy && status !== 401) {
        status = (await api('GET', '/v1/whoami')).status
        if (status !== 401) await Bun.sleep(50)
      }
      expect(status).toBe(401)

      // Backups of a PostgreSQL deployment are pg_dump's job.
      const backup = cli('backup', join(dir, 'pg.db'))
      expect(backup.exitCode).toBe(2)
      expect(backup.stderr.toString()).toContain('pg_dump')
    } finally {
      expect(await server.stop()).toBe(0)
      rx.stop(true)
    }
  }, 60_000)
})
