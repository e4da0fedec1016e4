/** One attempt: error classes, the 4 KB cap, and TLS to a pinned address verified against the name. */
import { afterAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { spawn } from 'bun'
import { classifyError, sendOnce } from '../../src/webhooks/send'
import type { Resolver } from '../../src/webhooks/ssrf'

const fixtures = join(import.meta.dir, 'fixtures')
const servers: { stop(force?: boolean): void }[] = []
afterAll(() => {
  for (const s of servers) s.stop(true)
})

const base = { body: '{}', headers: { 'content-type': 'application/json' }, timeoutMs: 1000, nowMs: Date.UTC(2026, 0, 1) }

describe('sendOnce', () => {
  test('a name that does not resolve fails with dns, before any connection', async () => {
    const resolve: Resolver = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND hooks.invalid'), { code: 'ENOTFOUND' })
    }
    const r = await sendOnce({ ...base, url: 'https://hooks.invalid/x', allowPrivate: false, resolve })
    expect(r).toMatchObject({ error: 'dns', statusCode: null })
  })

  test('a name resolving to a private address is refused without a request', async () => {
    let hits = 0
    const s = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: () => {
        hits++
        return new Response('')
      },
    })
    servers.push(s)
    const resolve: Resolver = async () => [{ address: '127.0.0.1', family: 4 }]
    const r = await sendOnce({ ...base, url: `http://hooks.example.com:${s.port}/x`, allowPrivate: false, resolve })
    expect(r).toMatchObject({ error: 'refused', statusCode: null })
    expect(r.errorMessage).toContain('blocked')
    expect(hits).toBe(0)
  })

  test('the request goes to the resolved address with the original Host header', async () => {
    let host = ''
    const s = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: (req) => {
        host = req.headers.get('host') ?? ''
        return new Response('ok')
      },
    })
    servers.push(s)
    const resolve: Resolver = async () => [{ address: '127.0.0.1', family: 4 }]
    const r = await sendOnce({ ...base, url: `http://receiver.test:${s.port}/x`, allowPrivate: true, resolve })
    expect(r).toMatchObject({ statusCode: 200, error: null, responseBody: 'ok' })
    expect(host).toBe(`receiver.test:${s.port}`)
    expect(r.sentHeaders.host).toBe(`receiver.test:${s.port}`)
  })

  test('a certificate nobody vouches for fails with tls', async () => {
    const s = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      tls: { cert: Bun.file(join(fixtures, 'localhost-cert.pem')), key: Bun.file(join(fixtures, 'localhost-key.pem')) },
      fetch: () => new Response('secret'),
    })
    servers.push(s)
    const r = await sendOnce({ ...base, url: `https://localhost:${s.port}/x`, allowPrivate: true })
    expect(r).toMatchObject({ error: 'tls', statusCode: null, responseBody: null })
  })

  test('TLS to the pinned address is verified against the URL name (trusted CA in a child process)', async () => {
    const s = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      tls: { cert: Bun.file(join(fixtures, 'localhost-cert.pem')), key: Bun.file(join(fixtures, 'localhost-key.pem')) },
      fetch: (req) => new Response(`hello ${req.headers.get('host')}`),
    })
    servers.push(s)
    // The receiver runs in this process, so the child must not block our event loop (no spawnSync).
    const run = async (url: string) => {
      const p = spawn([process.execPath, join(import.meta.dir, 'tls-child.ts'), url], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: join(fixtures, 'localhost-cert.pem') },
        stdout: 'pipe',
      })
      const out = await new Response(p.stdout).text()
      await p.exited
      return JSON.parse(out)
    }
    // By name: connects to 127.0.0.1, SNI and certificate check use "localhost".
    expect(await run(`https://localhost:${s.port}/x`)).toMatchObject({ statusCode: 200, error: null, responseBody: `hello localhost:${s.port}` })
    // By address: the certificate does not name 127.0.0.1, so the check still bites.
    expect(await run(`https://127.0.0.1:${s.port}/x`)).toMatchObject({ statusCode: null, error: 'tls' })
  })

  test('classifyError names the usual failures', () => {
    expect(classifyError(new DOMException('late', 'TimeoutError'))).toBe('timeout')
    expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('refused')
    expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('refused')
    expect(classifyError(Object.assign(new Error('x'), { code: 'ENOTFOUND' }))).toBe('dns')
    expect(classifyError(Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' }))).toBe('tls')
    expect(classifyError(Object.assign(new Error('x'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }))).toBe('tls')
  })
})
