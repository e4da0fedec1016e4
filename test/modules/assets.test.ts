/** Browser assets over HTTP: the SDK and widget files with their caching rules, and the /demo page. */
import { afterAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Elysia } from 'elysia'
import { SDK_DIST } from '../../scripts/build-sdk'
import type { ModuleDeps } from '../../src/http/deps'
import { createPlatformPlugin } from '../../src/http/platform'
import { RouteTable } from '../../src/http/route-table'
import { silentLogger } from '../../src/log'
import { assetsModule, matchesEtag } from '../../src/modules/assets'
import { staticFile } from '../../src/modules/assets/files'
import { sha256Hex } from '../../src/random'
import { createTestApp, expectError } from '../helpers'

const FILES = [
  ['/assets/js/mlc-visitor-sdk.js', 'mlc-visitor-sdk.js'],
  ['/assets/js/mlc-widget.js', 'mlc-widget.js'],
] as const

describe('browser files', () => {
  const t = createTestApp()
  afterAll(() => t.cleanup())

  for (const [path, name] of FILES) {
    describe(path, () => {
      const onDisk = readFileSync(join(SDK_DIST, name), 'utf8')
      const hash = sha256Hex(onDisk).slice(0, 16)

      test('serves the built file as JavaScript with a content-hash ETag and a short cache', async () => {
        const res = await t.request('GET', path, { token: null })
        expect(res.status).toBe(200)
        expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
        expect(res.headers.get('etag')).toBe(`"${hash}"`)
        expect(res.headers.get('cache-control')).toBe('public, max-age=300, stale-while-revalidate=86400')
        expect(res.headers.get('vary')).toBe('Accept-Encoding')
        expect(res.headers.get('x-content-type-options')).toBe('nosniff')
        expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin')
        expect(res.headers.get('access-control-allow-origin')).toBe('*')
        expect(res.headers.get('x-mlc-request-id')).toMatch(/^[0-9a-f]{32}$/)
        expect(await res.text()).toBe(onDisk)
      })

      test('answers 304 without a body when the ETag still matches', async () => {
        for (const tag of [`"${hash}"`, `W/"${hash}"`, `"${hash}-gzip"`, `"other", "${hash}"`]) {
          const res = await t.request('GET', path, { token: null, headers: { 'if-none-match': tag } })
          expect(res.status).toBe(304)
          expect(await res.text()).toBe('')
        }
        const stale = await t.request('GET', path, { token: null, headers: { 'if-none-match': '"0000000000000000"' } })
        expect(stale.status).toBe(200)
      })

      test('sends the pre-compressed copy to clients that accept gzip', async () => {
        const res = await t.request('GET', path, { token: null, headers: { 'accept-encoding': 'gzip, deflate, br' } })
        expect(res.headers.get('content-encoding')).toBe('gzip')
        expect(res.headers.get('etag')).toBe(`"${hash}-gzip"`)
        const body = new Uint8Array(await res.arrayBuffer())
        expect(new TextDecoder().decode(Bun.gunzipSync(body))).toBe(onDisk)
        expect(body.byteLength).toBeLessThan(Buffer.byteLength(onDisk))
      })

      test('a ?v= naming this content is cached for a year; another version is not', async () => {
        const pinned = await t.request('GET', `${path}?v=${hash}`, { token: null })
        expect(pinned.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
        const other = await t.request('GET', `${path}?v=0123456789abcdef`, { token: null })
        expect(other.status).toBe(200)
        expect(other.headers.get('cache-control')).toBe('public, max-age=300, stale-while-revalidate=86400')
      })
    })
  }

  test('ETag matching ignores unrelated tags', () => {
    expect(matchesEtag(null, 'abc')).toBe(false)
    expect(matchesEtag('"abcd"', 'abc')).toBe(false)
    expect(matchesEtag('*', 'abc')).toBe(true)
  })
})

describe('browser files not built', () => {
  // An app with only the platform and assets: files() reports nothing built, as in a checkout before the build.
  const t = createTestApp()
  afterAll(() => t.cleanup())
  let table: RouteTable | null = null
  const app = new Elysia()
    .use(createPlatformPlugin({ logger: silentLogger, routes: (): RouteTable => (table ??= new RouteTable(app.routes)) }))
    .use(assetsModule({ store: t.store, config: t.config } as ModuleDeps, async () => ({ sdk: null, widget: staticFile('/*w*/') })))

  test('answer 503 in the envelope, saying how to build them', async () => {
    const res = await app.handle(new Request('http://localhost/assets/js/mlc-visitor-sdk.js'))
    const body = await res.json()
    expectError({ status: res.status, headers: res.headers, body }, 503, 'unavailable')
    expect(body.error.message).toContain('npm run build:sdk')
    const widget = await app.handle(new Request('http://localhost/assets/js/mlc-widget.js'))
    expect(await widget.text()).toBe('/*w*/')
  })
})

describe('/demo', () => {
  const t = createTestApp()
  afterAll(() => t.cleanup())

  test('serves the snippet for the first site under a strict CSP with a fresh nonce', async () => {
    const a = await t.request('GET', '/demo', { token: null })
    expect(a.status).toBe(200)
    expect(a.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(a.headers.get('cache-control')).toBe('no-store')
    const csp = a.headers.get('content-security-policy') ?? ''
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1]
    expect(nonce).toBeTruthy()
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).not.toContain('unsafe-eval')
    const html = await a.text()
    const site = t.store.sites.byId(t.site1)!
    expect(html).toContain(`mylivechat('boot', { siteKey: "${site.publishable_key}" })`)
    expect(html).toContain('/assets/js/mlc-visitor-sdk.js')
    // Every script and style on the page carries the nonce: nothing inline would run without it.
    const tags = html.match(/<(script|style)\b[^>]*>/g) ?? []
    expect(tags.length).toBeGreaterThanOrEqual(4)
    for (const tag of tags) expect(tag).toContain(`nonce="${nonce}"`)
    expect(html).not.toMatch(/\son[a-z]+=|style="/)
    const b = await t.request('GET', '/demo', { token: null })
    expect(b.headers.get('content-security-policy')).not.toBe(csp)
  })

  test('?site= picks another site, and its name is escaped', async () => {
    t.store.sites.update(t.site2, { name: '<b>Two & "co"</b>', plan: 'growth', rate_limit: null })
    const html = await (await t.request('GET', `/demo?site=${t.site2}`, { token: null })).text()
    expect(html).toContain(t.store.sites.byId(t.site2)!.publishable_key)
    expect(html).toContain('&#60;b&#62;Two &#38; &#34;co&#34;&#60;/b&#62;')
    expect(html).not.toContain('<b>Two')
  })

  test('an unknown or malformed site is a 404 or 400 naming site', async () => {
    expectError(await t.call('GET', '/demo?site=999', { token: null }), 404, 'not_found', 'site')
    expectError(await t.call('GET', '/demo?site=abc', { token: null }), 400, 'bad_request', 'site')
  })
})
