/**
 * The front before routing (src/http/request-target.ts): a short or missing Host never changes the
 * route, and a malformed Host or percent escape answers 400 in the envelope instead of a bare 500.
 * In-process for what `new Request` can express; a real server over a raw socket for the rest.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createAdmin } from '../../src/dashboard/accounts'
import { SESSION_COOKIE } from '../../src/dashboard/kit'
import { routableRequest } from '../../src/http/request-target'
import { runCli, type ServerProcess, startServerProcess } from '../e2e/server'
import { createTestApp, type TestApp, tempDir, until } from '../helpers'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(() => t.cleanup())

async function expectEnvelope(res: Response, status: number, code: string, param?: string) {
  const body = (await res.json()) as any
  expect(res.status).toBe(status)
  expect(body.ok).toBe(false)
  expect(body.error.code).toBe(code)
  if (param) expect(body.error.param).toBe(param)
  expect(body.error.request_id).toBe(res.headers.get('x-mlc-request-id'))
  expect(body.error.request_id).toMatch(/^[0-9a-f]{32}$/)
}

describe('Host of three characters or fewer', () => {
  for (const base of ['http://abc', 'http://a', 'https://ab', 'http://abcd', 'http://localhost:8080']) {
    test(`${base}: the API routes on the path`, async () => {
      const res = await t.app.handle(new Request(`${base}/v1/tags`, { headers: { authorization: `Bearer ${t.writeToken}` } }))
      expect(res.status).toBe(200)
      expect(((await res.json()) as any).ok).toBe(true)
      const legacy = await t.app.handle(new Request(`${base}/v1/api.ashx?resource=whoami`, { headers: { authorization: `Bearer ${t.writeToken}` } }))
      expect(((await legacy.json()) as any).data.site_id).toBe(t.site1)
    })
  }

  test('a dashboard page answers as on any host (sign-in redirect, not 404)', async () => {
    const res = await t.app.handle(new Request('http://abc/dashboard/config_api_tokens.ascx'))
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toContain('/dashboard/sign-in')
  })
})

describe('a malformed percent escape in the path', () => {
  for (const path of ['/v1/%E0%A4%A', '/v1/tags/%E0', '/v1/api.ashx%ZZ', '/dashboard/%C3', '/%']) {
    test(`${path}: 400 bad_request naming the path`, async () => {
      await expectEnvelope(await t.app.handle(new Request(`http://localhost${path}`)), 400, 'bad_request', 'path')
    })
  }

  test('well-formed escapes still route', async () => {
    const res = await t.request('GET', '/v1/%74ags')
    expect([200, 404]).toContain(res.status)
    const unknown = await t.call('GET', '/v1/%C3%A9t%C3%A9')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.message).toContain('été')
  })
})

describe('routableRequest', () => {
  test('returns an absolute, routable request as it is', () => {
    const req = new Request('http://localhost:8080/v1/tags?x=1')
    expect(routableRequest(req)).toBe(req)
  })
})

describe('a real server, over a raw socket', () => {
  let server: ServerProcess
  let token = ''
  let jwt = ''
  const dir = tempDir()

  beforeAll(async () => {
    server = await startServerProcess(dir)
    const created = await runCli(['token', 'create', '--site', '1', '--scopes', 'read', '--json', '--data-dir', dir])
    token = JSON.parse(created.stdout).token
  })
  afterAll(async () => {
    await server.stop()
  })

  /** Sends raw bytes and returns the status line, headers and body. */
  async function raw(request: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    let text = ''
    const { promise, resolve } = Promise.withResolvers<void>()
    const socket = await Bun.connect({
      hostname: '127.0.0.1',
      port: server.port,
      socket: {
        data: (_s, chunk) => {
          text += new TextDecoder().decode(chunk)
          // Answers here carry Content-Length: done once the body is in (upgrades keep the socket open).
          const [head = '', body] = text.split('\r\n\r\n')
          const length = /content-length:\s*(\d+)/i.exec(head)?.[1]
          if (body !== undefined && length !== undefined && new TextEncoder().encode(body).length >= Number(length)) resolve()
        },
        close: () => resolve(),
        end: () => resolve(),
        error: () => resolve(),
      },
    })
    socket.write(request)
    await Promise.race([promise, Bun.sleep(5000)])
    socket.end()
    const [head = '', body = ''] = text.split('\r\n\r\n')
    const [statusLine = '', ...lines] = head.split('\r\n')
    const headers: Record<string, string> = {}
    for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim()
    return { status: Number(statusLine.split(' ')[1]), headers, body }
  }

  test('HTTP/1.0 without Host: /healthz and the API answer on the path', async () => {
    const health = await raw('GET /healthz HTTP/1.0\r\n\r\n')
    expect(health.status).toBe(200)
    expect(JSON.parse(health.body).data.status).toBe('ok')
    const tags = await raw(`GET /v1/tags HTTP/1.0\r\nAuthorization: Bearer ${token}\r\n\r\n`)
    expect(tags.status).toBe(200)
    expect(JSON.parse(tags.body).ok).toBe(true)
  })

  test('an unparsable Host: 400 in the envelope naming Host, with the request id header', async () => {
    for (const host of ['a b', '[::1', 'exa mple.com:80', '[::1]x', 'a/b']) {
      const res = await raw(`GET /v1/tags HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\n\r\n`)
      expect(res.status).toBe(400)
      const body = JSON.parse(res.body)
      expect(body.error).toMatchObject({ code: 'bad_request', param: 'Host' })
      expect(res.headers['x-mlc-request-id']).toBe(body.error.request_id)
    }
  })

  test('a WebSocket upgrade with an unparsable Host: 400 in the envelope', async () => {
    const res = await raw(
      `GET /v1/agent/ws?token=${token} HTTP/1.1\r\nHost: a b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    )
    expect(res.status).toBe(400)
    expect(JSON.parse(res.body).error.param).toBe('Host')
  })

  test('a malformed percent escape over the wire: 400, logged under its request id', async () => {
    const res = await raw('GET /v1/%E0%A4%A HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
    expect(res.status).toBe(400)
    const body = JSON.parse(res.body)
    expect(body.error.param).toBe('path')
    // The log line reaches us through the child's stdout pipe, a moment after the answer.
    await until(() => server.output().includes(body.error.request_id), 5000, 'the access log line')
    expect(server.output()).not.toContain('unhandled server error')
  })

  test('a short Host over the wire routes on the path', async () => {
    const res = await raw(`GET /v1/tags HTTP/1.1\r\nHost: abc\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\n\r\n`)
    expect(res.status).toBe(200)
  })

  test('a cookie with a bad % escape is ignored: the signed-in admin still gets the page', async () => {
    const { openStore } = await import('../../src/db/open-store')
    const { loadConfig } = await import('../../src/config')
    const { DashboardSessions } = await import('../../src/dashboard/sessions')
    const { systemClock } = await import('../../src/clock')
    // The store the server opened: its data dir, and its database URL when it has one.
    const store = await openStore(loadConfig({ 'data-dir': dir }, process.env))
    try {
      const admin = await createAdmin(store, systemClock, { email: 'a@example.com', password: 'a long password' })
      jwt = (await new DashboardSessions(store, systemClock, 3_600_000).start(admin, { ip: '127.0.0.1', userAgent: 'test' })).jwt
    } finally {
      await store.close()
    }
    for (const cookie of [`analytics=50%; ${SESSION_COOKIE}=${jwt}`, `${SESSION_COOKIE}=${jwt}; x=%E0%A4%A; y=%`]) {
      const res = await fetch(`${server.url}/dashboard/config_api_tokens.ascx`, { headers: { cookie }, redirect: 'manual' })
      expect(res.status).toBe(200)
      expect(await res.text()).toContain('API tokens')
    }
  })
})
