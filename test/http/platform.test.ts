/** The platform plugin on its own: 500s reveal nothing and log one line under the request id. */
import { describe, expect, test } from 'bun:test'
import { Elysia, t } from 'elysia'
import { createPlatformPlugin } from '../../src/http/platform'
import { RouteTable } from '../../src/http/route-table'
import { createLogger } from '../../src/log'

function appWithLog() {
  const lines: string[] = []
  const logger = createLogger({ write: (l) => lines.push(l) })
  const routes: () => RouteTable = () => new RouteTable(app.routes)
  const app = new Elysia()
    .use(createPlatformPlugin({ logger, routes }))
    .get('/boom', () => {
      throw new Error('secret internal detail: /var/lib/mlc/mlc.db')
    })
    .get('/bad-shape', () => ({ id: 'not-a-number' }) as never, { response: { 200: t.Object({ id: t.Integer() }) } })
  return { app, lines }
}

describe('internal errors', () => {
  test('answer 500 internal_error without internals, and log the stack under the request id', async () => {
    const { app, lines } = appWithLog()
    const res = await app.handle(new Request('http://localhost/boom?token=mlc_secret'))
    const body = (await res.json()) as any
    expect(res.status).toBe(500)
    expect(body.error.code).toBe('internal_error')
    expect(JSON.stringify(body)).not.toContain('secret internal detail')
    const rid = res.headers.get('x-mlc-request-id')
    expect(body.error.request_id).toBe(rid)
    expect(body.error.message).toContain(rid)
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.request_id === rid)
    expect(logged.level).toBe('error')
    expect(logged.stack).toContain('secret internal detail')
    expect(logged.path).toBe('/boom?token=REDACTED')
    expect(lines.join('\n')).not.toContain('mlc_secret')
  })
})

describe('a response that breaks its own schema', () => {
  test('is our bug: 500 internal_error, logged, never a 400 blaming the caller', async () => {
    const { app, lines } = appWithLog()
    const res = await app.handle(new Request('http://localhost/bad-shape'))
    const body = (await res.json()) as any
    expect(res.status).toBe(500)
    expect(body.error.code).toBe('internal_error')
    expect(body.error.param).toBeUndefined()
    expect(lines.some((l) => JSON.parse(l).request_id === body.error.request_id)).toBe(true)
  })
})
