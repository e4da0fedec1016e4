/** The HTTP contract shared by every resource: envelope, request ids, auth, scopes, errors, CORS. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(() => t.cleanup())

describe('envelope and request id', () => {
  test('success carries ok, data and a request id equal to the header', async () => {
    const r = await t.call('GET', '/v1/tags')
    expect(r.status).toBe(200)
    expect(r.body.ok).toBe(true)
    expect(Array.isArray(r.body.data)).toBe(true)
    expect(r.body.request_id).toMatch(/^[0-9a-f]{32}$/)
    expect(r.headers.get('x-mlc-request-id')).toBe(r.body.request_id)
  })

  test('every request gets a distinct id', async () => {
    const a = await t.call('GET', '/v1/tags')
    const b = await t.call('GET', '/v1/tags')
    expect(a.body.request_id).not.toBe(b.body.request_id)
  })

  test('unknown paths, preflights and health carry the header too', async () => {
    const unknown = await t.call('GET', '/nowhere', { token: null })
    expectError(unknown, 404, 'not_found')
    const pre = await t.request('OPTIONS', '/v1/tags', { token: null, headers: { origin: 'https://example.com', 'access-control-request-method': 'POST' } })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('x-mlc-request-id')).toMatch(/^[0-9a-f]{32}$/)
    expect(pre.headers.get('access-control-allow-headers')).toContain('Authorization')
    const health = await t.call('GET', '/healthz', { token: null })
    expect(health.status).toBe(200)
    expect(health.headers.get('x-mlc-request-id')).toBe(health.body.request_id)
  })

  test('/healthz from the front answers exactly what its documented route answers', async () => {
    // The front serves /healthz without the router; the Elysia route is what OpenAPI describes.
    const front = await t.app.handle(new Request('http://localhost/healthz?probe=1'))
    const routed = await t.app.elysia.handle(new Request('http://localhost/healthz'))
    const [f, r] = [await front.json(), await routed.json()]
    expect({ ...f, request_id: 'x' }).toEqual({ ...r, request_id: 'x' })
    expect(f.data).toEqual({ status: 'ok', version: expect.any(String) })
    for (const h of ['content-type', 'access-control-allow-origin', 'access-control-expose-headers']) {
      expect(`${h}: ${front.headers.get(h)}`).toBe(`${h}: ${routed.headers.get(h)}`)
    }
    const head = await t.app.handle(new Request('http://localhost/healthz', { method: 'HEAD' }))
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    // Other methods and look-alike paths still go through the router.
    expectError(await t.call('POST', '/healthz', { token: null }), 405, 'method_not_allowed')
    expectError(await t.call('GET', '/healthzz', { token: null }), 404, 'not_found')
  })
})

describe('both URL forms reach the same handler', () => {
  test('api.ashx?resource= and /v1/NAME list the same tags', async () => {
    await t.call('POST', '/v1/api.ashx?resource=tags', { body: { name: 'urlforms', color: '#112233' } })
    const legacy = await t.call('GET', '/v1/api.ashx?resource=tags')
    const modern = await t.call('GET', '/v1/tags')
    expect(legacy.body.data).toEqual(modern.body.data)
    expect(legacy.body.data.some((x: { name: string }) => x.name === 'urlforms')).toBe(true)
  })

  test('&id= addresses an item', async () => {
    const created = await t.call('POST', '/v1/tags', { body: { name: 'by-id', color: '#000000' } })
    const id = created.body.data.id
    const patched = await t.call('PATCH', `/v1/api.ashx?resource=tags&id=${id}`, { body: { color: '#ffffff' } })
    expect(patched.status).toBe(200)
    expect(patched.body.data).toEqual({ id, name: 'by-id', color: '#ffffff' })
  })

  test('api.ashx without resource is a 400 naming resource and listing the valid ones', async () => {
    const r = await t.call('GET', '/v1/api.ashx')
    expectError(r, 400, 'bad_request', 'resource')
    expect(r.body.error.message).toContain('tags')
  })
})

describe('authentication', () => {
  const cases: [string, Record<string, string>, string | null][] = [
    ['no credentials', {}, null],
    ['unknown token', { authorization: 'Bearer mlc_doesnotexist' }, null],
    ['wrong scheme', { authorization: 'Basic dXNlcjpwYXNz' }, null],
  ]
  for (const [name, headers] of cases) {
    test(`${name}: 401 with WWW-Authenticate`, async () => {
      const r = await t.call('GET', '/v1/tags', { token: null, headers })
      expectError(r, 401, 'unauthorized')
      expect(r.headers.get('www-authenticate')).toContain('Bearer')
    })
  }

  test('?token= works like the header', async () => {
    const r = await t.call('GET', `/v1/tags?token=${t.readToken}`, { token: null })
    expect(r.status).toBe(200)
  })

  test('401 comes before a malformed body', async () => {
    const r = await t.call('POST', '/v1/tags', { token: null, rawBody: '{nope' })
    expectError(r, 401, 'unauthorized')
  })

  test('a revoked token stops working', async () => {
    const { createToken, revokeToken } = await import('../../src/modules/tokens/service')
    const tok = await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })
    expect((await t.call('GET', '/v1/tags', { token: tok.token })).status).toBe(200)
    await revokeToken(t.store, t.clock, tok.id)
    t.clock.advance(1000) // the epoch is checked at most every 500 ms
    expectError(await t.call('GET', '/v1/tags', { token: tok.token }), 401, 'unauthorized')
  })

  test('a token revoked or rotated in this process stops working at once', async () => {
    const { createToken, revokeToken, rotateToken } = await import('../../src/modules/tokens/service')
    const a = await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })
    const b = await createToken(t.store, t.clock, { siteId: t.site1, scopes: 'read' })
    expect((await t.call('GET', '/v1/tags', { token: a.token })).status).toBe(200)
    expect((await t.call('GET', '/v1/tags', { token: b.token })).status).toBe(200)
    await revokeToken(t.store, t.clock, a.id)
    const rotated = await rotateToken(t.store, b.id)
    expectError(await t.call('GET', '/v1/tags', { token: a.token }), 401, 'unauthorized')
    expectError(await t.call('GET', '/v1/tags', { token: b.token }), 401, 'unauthorized')
    expect((await t.call('GET', '/v1/tags', { token: rotated.token })).status).toBe(200)
  })

  test('failed authentication is limited per client IP', async () => {
    const ip = '203.0.113.77'
    let last = await t.call('GET', '/v1/tags', { token: 'mlc_guess', ip })
    for (let i = 0; i < 40 && last.status === 401; i++) last = await t.call('GET', '/v1/tags', { token: `mlc_guess${i}`, ip })
    expectError(last, 429, 'rate_limited')
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // Even the right token is refused from that address until the window passes ...
    expectError(await t.call('GET', '/v1/tags', { ip }), 429, 'rate_limited')
    // ... while other addresses are unaffected.
    expect((await t.call('GET', '/v1/tags', { ip: '203.0.113.78' })).status).toBe(200)
  })
})

describe('scopes', () => {
  for (const method of ['POST', 'PATCH', 'DELETE']) {
    test(`${method} with a read token is 403`, async () => {
      const path = method === 'POST' ? '/v1/tags' : '/v1/tags/1'
      const r = await t.call(method, path, { token: t.readToken, body: { name: 'nope', color: '#000000' } })
      expectError(r, 403, 'forbidden')
    })
  }
})

describe('errors', () => {
  test('unknown resource: 404 listing valid resources', async () => {
    const r = await t.call('GET', '/v1/api.ashx?resource=nope')
    expectError(r, 404, 'not_found', 'resource')
    expect(r.body.error.message).toContain('tags')
    expect(r.body.error.message).toContain('whoami')
  })

  test('known resource, unsupported method: 405 with Allow', async () => {
    const r = await t.call('PUT', '/v1/tags')
    expectError(r, 405, 'method_not_allowed')
    expect(r.headers.get('allow')).toContain('GET')
    expect(r.headers.get('allow')).toContain('POST')
  })

  test('malformed JSON is a 400, never a 500', async () => {
    const r = await t.call('POST', '/v1/tags', { rawBody: '{"name": ' })
    expectError(r, 400, 'bad_request', 'body')
  })

  test('JSON is parsed whatever the Content-Type (curl -d sends form encoding)', async () => {
    const r = await t.call('POST', '/v1/tags', {
      rawBody: '{"name":"formencoded","color":"#abcdef"}',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(r.status).toBe(201)
    expect(r.body.data.name).toBe('formencoded')
  })

  test('an empty body counts as {} (and then fails validation naming the field)', async () => {
    const r = await t.call('POST', '/v1/tags', { rawBody: '' })
    expectError(r, 400, 'bad_request', 'name')
  })

  test('bodies over 1 MiB: 413', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10) })
    const r = await t.call('POST', '/v1/tags', { rawBody: big })
    expectError(r, 413, 'payload_too_large')
  })

  test('chunked bodies over 1 MiB (no Content-Length): 413', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(256 * 1024))
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 5; i++) c.enqueue(chunk)
        c.close()
      },
    })
    const res = await t.app.handle(
      new Request('http://localhost/v1/tags', { method: 'POST', body: stream, headers: { authorization: `Bearer ${t.writeToken}` } }),
    )
    const body = await res.json()
    expectError({ status: res.status, headers: res.headers, body }, 413, 'payload_too_large')
  })
})

describe('CORS', () => {
  test('responses allow any origin and expose the rate-limit and request-id headers', async () => {
    const r = await t.request('GET', '/v1/tags', { headers: { origin: 'https://shop.example' } })
    expect(r.headers.get('access-control-allow-origin')).toBe('*')
    const exposed = r.headers.get('access-control-expose-headers') ?? ''
    for (const h of ['X-MLC-Request-Id', 'X-RateLimit-Remaining', 'Retry-After', 'RateLimit']) expect(exposed).toContain(h)
  })
})

describe('OpenAPI', () => {
  test('the document is generated from the routes, with bearer security and a server', async () => {
    const r = await t.request('GET', '/v1/openapi.json', { token: null })
    expect(r.status).toBe(200)
    const doc = (await r.json()) as any
    expect(doc.openapi).toMatch(/^3\.1/)
    expect(doc.servers?.[0]?.url).toBeTruthy()
    expect(doc.components.securitySchemes.bearer.scheme).toBe('bearer')
    const post = doc.paths['/v1/tags/'] ?? doc.paths['/v1/tags']
    expect(post.post.responses['201']).toBeTruthy()
    expect(post.post.responses['409']).toBeTruthy()
    expect(doc.paths['/v1/whoami/'] ?? doc.paths['/v1/whoami']).toBeTruthy()
  })

  test('the reference page is served', async () => {
    const r = await t.request('GET', '/v1/openapi', { token: null })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toContain('text/html')
  })
})
