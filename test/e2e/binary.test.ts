/** The compiled executable: copied alone into an empty folder, run with no Bun or Node on PATH. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'bun'
import { tempDir } from '../helpers'
import { startServerProcess } from './server'

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
    const server = await startServerProcess(data, { cmd: [bin, 'serve'], env: emptyEnv })
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
      const created = spawnSync([bin, 'token', 'create', '--site', '1', '--scopes', 'read', '--json', '--data-dir', data], { env: emptyEnv, cwd: dir })
      expect(created.exitCode).toBe(0)
      const { token } = JSON.parse(created.stdout.toString())
      const who = await fetch(`${server.url}/v1/api.ashx?resource=whoami`, { headers: { authorization: `Bearer ${token}` } })
      expect(who.status).toBe(200)
      expect(((await who.json()) as any).data.scopes).toEqual(['read'])
    } finally {
      await server.stop()
    }
  })

  test('serves the visitor SDK, the widget and /demo embedded in the binary (no sdk/dist beside it)', async () => {
    // Site 1 is a public demo, so /demo answers without signing in; other sites still need a session.
    const server = await startServerProcess(join(dir, 'data-assets'), { cmd: [bin, 'serve'], env: { ...emptyEnv, MLC_DEMO_PUBLIC_SITE: '1' } })
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
    const server = await startServerProcess(data, { cmd: [bin, 'serve'], env: emptyEnv })
    try {
      let ready = 0
      for (let i = 0; i < 100 && ready !== 200; i++) {
        ready = (await fetch(`${server.url}/readyz`)).status
        if (ready !== 200) await Bun.sleep(50)
      }
      expect(ready).toBe(200)
      const doc = (await (await fetch(`${server.url}/v1/openapi.json`)).json()) as { paths: Record<string, unknown> }
      expect(Object.keys(doc.paths)).toContain('/v1/tags/')
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
    const server = await startServerProcess(data, { cmd: [bin, 'serve'], env: { ...emptyEnv, MLC_WEBHOOK_ALLOW_PRIVATE: '1' } })
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
