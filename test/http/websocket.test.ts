/**
 * The WebSocket caps on a real server (Bun.serve on loopback, real sockets): at most
 * MLC_WS_MAX_PER_CREDENTIAL sockets per API token, per widget visitor and per dashboard session;
 * the next upgrade is a 429 in the error envelope with Retry-After, a closed socket gives its slot
 * back, a burst of parallel handshakes cannot overshoot, and every upgrade attempt is logged like
 * a request.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { loadConfig } from '../../src/config'
import { createAdmin } from '../../src/dashboard/accounts'
import { createLogger } from '../../src/log'
import { createToken } from '../../src/modules/tokens/service'
import { type RunningServer, startServer } from '../../src/server'
import { openTestStore, tempDir } from '../helpers'

const CAP = 3
const clock = { now: () => Date.now() }
const HANDSHAKE = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }

let server: RunningServer
let base: string
let ws: string
let siteKey: string
const dir = tempDir()
const logs: string[] = []
// The test engine's database (TEST_ENGINE): the server opens it again from its configuration.
let database: Awaited<ReturnType<typeof openTestStore>>

beforeAll(async () => {
  database = await openTestStore(dir)
  const config = loadConfig({}, { MLC_DATA_DIR: dir, MLC_PORT: '0', MLC_HOST: '127.0.0.1', MLC_WS_MAX_PER_CREDENTIAL: String(CAP), ...database.env })
  server = await startServer(config, { logger: createLogger({ level: 'info', write: (line) => logs.push(line) }) })
  base = `http://127.0.0.1:${server.port}`
  ws = base.replace('http', 'ws')
  siteKey = (await server.store.sites.byId(1))?.publishable_key as string
})

afterAll(async () => {
  await server.stop()
  await database.drop()
  rmSync(dir, { recursive: true, force: true })
})

/** Opens a socket; resolves with it once the hello frame arrived, or with the close code when refused. */
function connect(url: string, headers: Record<string, string> = {}): Promise<{ socket?: WebSocket; hello?: any; code?: number }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers } as never)
    socket.onmessage = (e) => resolve({ socket, hello: JSON.parse(String(e.data)) })
    socket.onclose = (e) => resolve({ code: e.code })
  })
}

/** Closes sockets and waits until the server has seen them go. */
async function closeAll(sockets: (WebSocket | undefined)[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (!s || s.readyState === WebSocket.CLOSED) return resolve()
          s.onclose = () => resolve()
          s.close()
        }),
    ),
  )
  // The server's close handler runs after the client saw the close frame.
  await Bun.sleep(50)
}

/** The handshake as a plain fetch, to read the refusal's status, headers and body. */
async function handshake(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, { headers: { ...HANDSHAKE, ...headers } })
  return { status: res.status, headers: res.headers, body: (await res.json()) as any }
}

function expectCapped(r: Awaited<ReturnType<typeof handshake>>, holder: string) {
  expect(r.status).toBe(429)
  expect(r.body.ok).toBe(false)
  expect(r.body.error.code).toBe('rate_limited')
  expect(r.body.error.message).toContain(`${holder} already has ${CAP} open WebSocket connections`)
  expect(r.headers.get('x-mlc-request-id')).toBe(r.body.error.request_id)
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
}

function requestLines(): any[] {
  return logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request')
}

describe('agent sockets: per API token', () => {
  test('the token holds at most the cap; the next upgrade is a 429 envelope and hears nothing; another token is not affected', async () => {
    const token = (await createToken(server.store, clock, { siteId: 1, scopes: 'read', name: 'inbox' })).token
    const open = await Promise.all(Array.from({ length: CAP }, () => connect(`${ws}/v1/agent/ws?token=${token}`)))
    expect(open.map((o) => o.hello)).toEqual(Array(CAP).fill({ type: 'hello', site_id: 1 }))
    expectCapped(await handshake(`/v1/agent/ws?token=${token}`), 'This API token')
    // The same token in the Authorization header counts against the same cap.
    expectCapped(await handshake('/v1/agent/ws', { authorization: `Bearer ${token}` }), 'This API token')
    const refused = await connect(`${ws}/v1/agent/ws?token=${token}`)
    expect(refused.socket).toBeUndefined()
    const other = (await createToken(server.store, clock, { siteId: 1, scopes: 'read', name: 'other' })).token
    const fine = await connect(`${ws}/v1/agent/ws?token=${other}`)
    expect(fine.hello).toEqual({ type: 'hello', site_id: 1 })
    await closeAll([...open.map((o) => o.socket), fine.socket])
  })

  test('a closed socket gives its slot back', async () => {
    const token = (await createToken(server.store, clock, { siteId: 1, scopes: 'read', name: 'reuse' })).token
    const open = await Promise.all(Array.from({ length: CAP }, () => connect(`${ws}/v1/agent/ws?token=${token}`)))
    expect((await handshake(`/v1/agent/ws?token=${token}`)).status).toBe(429)
    await closeAll([open[0]?.socket])
    const again = await connect(`${ws}/v1/agent/ws?token=${token}`)
    expect(again.hello).toEqual({ type: 'hello', site_id: 1 })
    await closeAll([...open.slice(1).map((o) => o.socket), again.socket])
    // All closed: the token may open the full cap again.
    const next = await Promise.all(Array.from({ length: CAP }, () => connect(`${ws}/v1/agent/ws?token=${token}`)))
    expect(next.every((o) => o.hello)).toBe(true)
    await closeAll(next.map((o) => o.socket))
  })

  test('30 parallel handshakes with one token open exactly the cap', async () => {
    const { id, token } = await createToken(server.store, clock, { siteId: 1, scopes: 'read', name: 'burst' })
    const results = await Promise.all(Array.from({ length: 30 }, () => connect(`${ws}/v1/agent/ws?token=${token}`)))
    expect(results.filter((r) => r.hello).length).toBe(CAP)
    expect(server.app.realtime.socketsOfToken(id)).toBe(CAP)
    await closeAll(results.map((r) => r.socket))
    expect(server.app.realtime.socketsOfToken(id)).toBe(0)
  })
})

describe('visitor sockets: per visitor', () => {
  test('a visitor holds at most the cap across their sessions; another visitor is not affected', async () => {
    const open = async (anon: string) => {
      const res = await fetch(`${base}/v1/widget/sessions`, { method: 'POST', body: JSON.stringify({ site_key: siteKey, anon_id: anon }) })
      return ((await res.json()) as any).data.session_id as string
    }
    const url = (sid: string, anon: string) => `/v1/widget/ws?session_id=${sid}&site_key=${siteKey}&anon_id=${anon}`
    const first = await open('cap-visitor')
    const second = await open('cap-visitor')
    const sockets = await Promise.all([first, first, second].map((sid) => connect(`${ws}${url(sid, 'cap-visitor')}`)))
    expect(sockets.every((s) => s.hello?.type === 'hello')).toBe(true)
    expectCapped(await handshake(url(second, 'cap-visitor')), 'This visitor')
    const stranger = await open('another-visitor')
    expect((await connect(`${ws}${url(stranger, 'another-visitor')}`)).hello?.session_id).toBe(stranger)
    await closeAll(sockets.map((s) => s.socket))
    const back = await connect(`${ws}${url(first, 'cap-visitor')}`)
    expect(back.hello?.session_id).toBe(first)
    await closeAll([back.socket])
  })
})

describe("the dashboard's live channel: per session", () => {
  let cookieA: string
  let cookieB: string

  /** Signs in over HTTP and returns the Cookie header of the new session. */
  async function signIn(): Promise<string> {
    const form = await fetch(`${base}/dashboard/sign-in`)
    const pre = form.headers.getSetCookie().map((c) => c.split(';')[0])
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? ''
    const res = await fetch(`${base}/dashboard/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: pre.join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, email: 'cap@example.com', password: 'a long password' }).toString(),
    })
    expect(res.status).toBe(303)
    const session = res.headers.getSetCookie().find((c) => c.startsWith('mlc_session='))
    return (session ?? '').split(';')[0] as string
  }

  beforeAll(async () => {
    await createAdmin(server.store, clock, { email: 'cap@example.com', password: 'a long password' })
    cookieA = await signIn()
    cookieB = await signIn()
  })

  test('a session holds at most the cap (429 envelope past it); another session of the same admin has its own', async () => {
    const live = (cookie: string) => connect(`${ws}/dashboard/ws?site=1`, { cookie, origin: base })
    const open = await Promise.all(Array.from({ length: CAP }, () => live(cookieA)))
    expect(open.map((o) => o.hello)).toEqual(Array(CAP).fill({ type: 'hello', site_id: 1 }))
    expectCapped(await handshake('/dashboard/ws?site=1', { cookie: cookieA, origin: base }), 'This dashboard session')
    const other = await live(cookieB)
    expect(other.hello).toEqual({ type: 'hello', site_id: 1 })
    await closeAll([open[0]?.socket])
    const again = await live(cookieA)
    expect(again.hello).toEqual({ type: 'hello', site_id: 1 })
    await closeAll([...open.slice(1).map((o) => o.socket), other.socket, again.socket])
  })

  test('refusals are the error envelope with the request id', async () => {
    const r = await handshake('/dashboard/ws?site=1', { origin: base })
    expect(r.status).toBe(401)
    expect(r.body.error.code).toBe('unauthorized')
    expect(r.headers.get('x-mlc-request-id')).toBe(r.body.error.request_id)
  })

  test('an Origin that is not a URL is refused like another origin (403 envelope), not a 500', async () => {
    for (const origin of ['not a url', 'http://', '%']) {
      const r = await handshake('/dashboard/ws?site=1', { cookie: cookieA, origin })
      expect(r.status).toBe(403)
      expect(r.body.error.code).toBe('forbidden')
      expect(r.headers.get('x-mlc-request-id')).toBe(r.body.error.request_id)
    }
  })
})

describe('access log', () => {
  test('every upgrade attempt writes one request line: request id, method, redacted path, status, token id, ip', async () => {
    const { id, token } = await createToken(server.store, clock, { siteId: 1, scopes: 'read', name: 'logged' })
    const before = requestLines().length
    const open = await Promise.all(Array.from({ length: CAP }, () => connect(`${ws}/v1/agent/ws?token=${token}`)))
    const capped = await handshake(`/v1/agent/ws?token=${token}`)
    const unknown = await handshake('/v1/agent/ws?token=mlc_not_a_token')
    await closeAll(open.map((o) => o.socket))
    const lines = requestLines()
      .slice(before)
      .filter((l) => l.path.startsWith('/v1/agent/ws'))
    expect(lines.map((l) => l.status)).toEqual([...Array(CAP).fill(101), 429, 401])
    for (const l of lines) {
      expect(l).toMatchObject({ method: 'GET', ip: '127.0.0.1' })
      expect(l.request_id).toMatch(/^[0-9a-f]{32}$/)
      expect(l.path).toBe('/v1/agent/ws?token=REDACTED')
      expect(typeof l.duration_ms).toBe('number')
    }
    expect(lines.map((l) => l.token_id)).toEqual([...Array(CAP + 1).fill(id), null])
    expect(lines[CAP].request_id).toBe(capped.body.error.request_id)
    expect(lines[CAP + 1].request_id).toBe(unknown.body.error.request_id)
    expect(logs.join('\n')).not.toContain(token)
  })

  test('live channel upgrades are logged too', async () => {
    const before = requestLines().length
    const r = await handshake('/dashboard/ws?site=1', { origin: base })
    const line = requestLines()
      .slice(before)
      .find((l) => l.path === '/dashboard/ws?site=1')
    expect(line).toMatchObject({ method: 'GET', status: 401, token_id: null, ip: '127.0.0.1', request_id: r.body.error.request_id })
  })
})
