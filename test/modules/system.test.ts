/**
 * The API reference page at /v1/openapi: served with a CSP that allows our origin only, and its
 * script (Scalar's standalone bundle from the npm package) served by us, not by a CDN.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { createRequire } from 'node:module'
import { createTestApp } from '../helpers'

const t = await createTestApp()
afterAll(() => t.cleanup())

const SCALAR_FILE = createRequire(import.meta.url).resolve('@scalar/api-reference/browser/standalone.js')
const EXPECTED_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

async function referencePage(): Promise<{ res: Response; html: string }> {
  const res = await t.request('GET', '/v1/openapi', { token: null })
  return { res, html: await res.text() }
}

/** The src of every script tag on the page. */
function scriptSources(html: string): string[] {
  return [...html.matchAll(/<script\b[^>]*\bsrc="([^"]*)"/g)].map((m) => m[1] as string)
}

describe('/v1/openapi', () => {
  test('is served with a CSP that allows only our origin, nosniff, no referrer and no framing', async () => {
    const { res } = await referencePage()
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('content-security-policy')).toBe(EXPECTED_CSP)
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    expect(res.headers.get('x-frame-options')).toBe('DENY')
    expect(res.headers.get('x-mlc-request-id')).toMatch(/^[0-9a-f]{32}$/)
  })

  test('loads one script, from this server, and names no other origin at all', async () => {
    const { html } = await referencePage()
    const sources = scriptSources(html)
    expect(sources).toHaveLength(1)
    expect(sources[0]).toMatch(/^\/v1\/openapi\/scalar\.js\?v=[0-9a-f]{16}$/)
    // No CDN, no absolute URL of any kind (a protocol-relative one included).
    expect(html).not.toMatch(/https?:|\/\/[a-z0-9]/i)
    // Nothing inline would run: the one other script element is a JSON data block with no content.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
    expect(scripts).toHaveLength(2)
    for (const [, attrs, body] of scripts) {
      expect(body?.trim()).toBe('')
      if (!attrs?.includes('src=')) expect(attrs).toContain('type="application/json"')
    }
    expect(html).not.toMatch(/\son[a-z]+=|<style/)
  })

  test("Scalar's configuration keeps it on this origin: no web fonts, telemetry, agent, client link; the document is ours", async () => {
    const { html } = await referencePage()
    const tag = /<script id="api-reference"[^>]*>/.exec(html)?.[0] ?? ''
    expect(tag).toContain('data-url="/v1/openapi.json"')
    const raw = /data-configuration="([^"]*)"/.exec(tag)?.[1] ?? ''
    const config = JSON.parse(raw.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))))
    expect(config).toMatchObject({
      withDefaultFonts: false,
      telemetry: false,
      showDeveloperTools: 'never',
      agent: { disabled: true },
      hideClientButton: true,
      servers: [{ url: '/' }],
    })
  })

  test('the script is the npm package of the reference UI, served as JavaScript and cached for a year under its hash', async () => {
    const { html } = await referencePage()
    const src = scriptSources(html)[0] as string
    const onDisk = new Uint8Array(await Bun.file(SCALAR_FILE).arrayBuffer())
    const hash = new Bun.CryptoHasher('sha256').update(onDisk).digest('hex').slice(0, 16)
    expect(src).toBe(`/v1/openapi/scalar.js?v=${hash}`)

    const res = await t.request('GET', src, { token: null })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(res.headers.get('etag')).toBe(`"${hash}"`)
    const body = new Uint8Array(await res.arrayBuffer())
    expect(body.byteLength).toBe(onDisk.byteLength)
    expect(Buffer.compare(body, onDisk)).toBe(0)

    const gz = await t.request('GET', src, { token: null, headers: { 'accept-encoding': 'gzip' } })
    expect(gz.headers.get('content-encoding')).toBe('gzip')
    const packed = new Uint8Array(await gz.arrayBuffer())
    expect(packed.byteLength).toBeLessThan(onDisk.byteLength / 2)
    expect(Buffer.compare(Bun.gunzipSync(packed), onDisk)).toBe(0)

    const again = await t.request('GET', src, { token: null, headers: { 'if-none-match': `"${hash}"` } })
    expect(again.status).toBe(304)
    // Without the version the URL may change content under it: short cache only.
    const bare = await t.request('GET', '/v1/openapi/scalar.js', { token: null })
    expect(bare.headers.get('cache-control')).toBe('public, max-age=300, stale-while-revalidate=86400')
  })

  test('the OpenAPI document still describes the API and not the page or its script', async () => {
    const doc = (await t.call('GET', '/v1/openapi.json', { token: null })).body
    expect(doc.info.title).toBe('mlc API')
    expect(doc.paths['/v1/tags/'] ?? doc.paths['/v1/tags']).toBeTruthy()
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/v1/openapi'))).toEqual([])
  })
})
