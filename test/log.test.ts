/** Log lines never carry credentials: redactUrl on its own, and the access log of real requests. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createLogger, redactUrl } from '../src/log'
import { createTestApp, type TestApp } from './helpers'

describe('redactUrl', () => {
  const cases: [string, string][] = [
    ['/v1/api.ashx?resource=tags&token=mlc_abc&limit=5', '/v1/api.ashx?resource=tags&token=REDACTED&limit=5'],
    ['/v1/tags?TOKEN=x', '/v1/tags?TOKEN=REDACTED'],
    // Percent-encoded names are the same parameter to the server, so they are to the log.
    ['/v1/tags?%74oken=mlc_secret', '/v1/tags?%74oken=REDACTED'],
    ['/v1/tags?%54%4F%4B%45%4E=mlc_secret&a=1', '/v1/tags?%54%4F%4B%45%4E=REDACTED&a=1'],
    ['/v1/tags?site%5Fkey=pk_x', '/v1/tags?site%5Fkey=REDACTED'],
    // The widget's anon_id is a visitor's credential.
    ['/v1/widget/ws?session_id=s1&site_key=pk_1&anon_id=a_secret', '/v1/widget/ws?session_id=s1&site_key=REDACTED&anon_id=REDACTED'],
    ['/v1/widget/sessions/x?%61non_id=a_secret', '/v1/widget/sessions/x?%61non_id=REDACTED'],
    ['/v1/x?identity_token=eyJ.x.y', '/v1/x?identity_token=REDACTED'],
    // A malformed escape in a name is compared as it stands, never thrown on.
    ['/v1/tags?%E0=1&token=t', '/v1/tags?%E0=1&token=REDACTED'],
    ['/v1/tags', '/v1/tags'],
    ['/v1/tags?limit=5&tokens=1', '/v1/tags?limit=5&tokens=1'],
  ]
  for (const [input, expected] of cases) {
    test(input, () => expect(redactUrl(input)).toBe(expected))
  }
})

describe('the access log of real requests', () => {
  let t: TestApp
  const lines: string[] = []
  beforeAll(async () => {
    t = await createTestApp({}, { logger: createLogger({ write: (l) => lines.push(l) }) })
  })
  afterAll(() => t.cleanup())

  test('a token sent as ?%74oken= authenticates and never reaches the log', async () => {
    const res = await t.app.handle(new Request(`http://localhost/v1/tags?%74oken=${t.writeToken}`))
    expect(res.status).toBe(200)
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.request_id === res.headers.get('x-mlc-request-id'))
    expect(line.path).toBe('/v1/tags?%74oken=REDACTED')
    expect(lines.join('\n')).not.toContain(t.writeToken)
  })

  test("a widget request's anon_id never reaches the log", async () => {
    const site = (await t.store.sites.byId(t.site1)) as { publishable_key: string }
    const anon = 'anon_secret_0123456789abcdef'
    const res = await t.app.handle(new Request(`http://localhost/v1/widget/sessions/none?site_key=${site.publishable_key}&anon_id=${anon}`))
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.request_id === res.headers.get('x-mlc-request-id'))
    expect(line.path).toContain('anon_id=REDACTED')
    expect(lines.join('\n')).not.toContain(anon)
    expect(lines.join('\n')).not.toContain(site.publishable_key)
  })
})
