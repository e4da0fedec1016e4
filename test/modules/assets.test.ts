/**
 * Browser assets over HTTP: the SDK and widget files with their caching rules, and the /demo page
 * (signed-in admins and their sites only, or the one public demo site).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Elysia } from 'elysia'
import { SDK_DIST } from '../../scripts/build-sdk'
import { loadConfig } from '../../src/config'
import { createAdmin } from '../../src/dashboard/accounts'
import type { AdminRow } from '../../src/db/rows'
import type { ModuleDeps } from '../../src/http/deps'
import { createPlatformPlugin } from '../../src/http/platform'
import { RouteTable } from '../../src/http/route-table'
import { silentLogger } from '../../src/log'
import { assetsModule, matchesEtag } from '../../src/modules/assets'
import { staticFile } from '../../src/modules/assets/files'
import { createSite } from '../../src/modules/sites/service'
import { sha256Hex } from '../../src/random'
import { createTestApp, expectError, type TestApp } from '../helpers'

const FILES = [
  ['/assets/js/mlc-visitor-sdk.js', 'mlc-visitor-sdk.js'],
  ['/assets/js/mlc-widget.js', 'mlc-widget.js'],
] as const

describe('browser files', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp()
  })
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
  let t: TestApp
  let app: ReturnType<typeof platformWithAssets>
  function platformWithAssets(t: TestApp) {
    let table: RouteTable | null = null
    const app = new Elysia()
      .use(createPlatformPlugin({ logger: silentLogger, routes: (): RouteTable => (table ??= new RouteTable(app.routes)) }))
      .use(assetsModule({ store: t.store, config: t.config } as ModuleDeps, async () => ({ sdk: null, widget: staticFile('/*w*/') })))
    return app
  }
  beforeAll(async () => {
    t = await createTestApp()
    app = platformWithAssets(t)
  })
  afterAll(() => t.cleanup())

  test('answer 503 in the envelope, saying how to build them', async () => {
    const res = await app.handle(new Request('http://localhost/assets/js/mlc-visitor-sdk.js'))
    const body = await res.json()
    expectError({ status: res.status, headers: res.headers, body }, 503, 'unavailable')
    expect(body.error.message).toContain('npm run build:sdk')
    const widget = await app.handle(new Request('http://localhost/assets/js/mlc-widget.js'))
    expect(await widget.text()).toBe('/*w*/')
  })
})

/** A browser's cookie jar, enough to follow the sign-in flow. */
class Jar {
  readonly cookies = new Map<string, string>()
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
  keep(res: Response): Response {
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';')
      const i = pair.indexOf('=')
      this.cookies.set(pair.slice(0, i), pair.slice(i + 1))
    }
    return res
  }
}

describe('/demo', () => {
  let t: TestApp
  afterAll(() => t.cleanup())
  let site3 = 0
  let owner: AdminRow
  let siteTwoAdmin: AdminRow

  beforeAll(async () => {
    t = await createTestApp()
    site3 = (await createSite(t.store, t.clock, { name: 'Site three' })).id
    owner = await createAdmin(t.store, t.clock, { email: 'owner@example.com', password: 'owner password' })
    siteTwoAdmin = await createAdmin(t.store, t.clock, { email: 'two@example.com', password: 'site two password', siteIds: [t.site2] })
  })

  /** A session cookie for an admin, as signing in sets it. */
  async function sessionOf(admin: AdminRow): Promise<string> {
    const { jwt } = await t.app.dashboard.kit.sessions.start(admin, { ip: '127.0.0.1', userAgent: 'test' })
    return `mlc_session=${jwt}`
  }

  const demo = (path: string, cookie?: string) => t.request('GET', path, { token: null, headers: cookie ? { cookie } : {} })

  test('a visitor who is not signed in is sent to the sign-in page, and learns nothing about any site', async () => {
    for (const [path, next] of [
      ['/demo', '%2Fdemo'],
      [`/demo?site=${t.site1}`, `%2Fdemo%3Fsite%3D${t.site1}`],
      ['/demo?site=999', '%2Fdemo%3Fsite%3D999'],
    ] as const) {
      const res = await demo(path)
      expect(res.status).toBe(303)
      expect(res.headers.get('location')).toBe(`/dashboard/sign-in?next=${next}`)
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(res.headers.get('x-mlc-request-id')).toMatch(/^[0-9a-f]{32}$/)
      expect(await res.text()).toBe('')
    }
    // A cookie that is not a live session is no better than none.
    const signedOut = await sessionOf(owner)
    await t.app.dashboard.kit.sessions.end((await t.app.dashboard.kit.sessions.read(signedOut.slice('mlc_session='.length)))!.session.id)
    for (const cookie of [signedOut, 'mlc_session=not-a-jwt']) expect((await demo('/demo', cookie)).status).toBe(303)
  })

  test('signing in from there comes back to the demo page that was asked for', async () => {
    const jar = new Jar()
    const first = jar.keep(await demo(`/demo?site=${t.site2}`))
    const signInPage = first.headers.get('location') ?? ''
    const form = await jar.keep(await t.request('GET', signInPage, { token: null, headers: { cookie: jar.header() } })).text()
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(form)?.[1] ?? ''
    expect(field('next')).toBe(`/demo?site=${t.site2}`)
    const signedIn = jar.keep(
      await t.request('POST', '/dashboard/sign-in', {
        token: null,
        headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        rawBody: new URLSearchParams({ csrf: field('csrf'), next: field('next'), email: 'two@example.com', password: 'site two password' }).toString(),
      }),
    )
    expect(signedIn.status).toBe(303)
    expect(signedIn.headers.get('location')).toBe(`/demo?site=${t.site2}`)
    const page = await demo(`/demo?site=${t.site2}`, jar.header())
    expect(page.status).toBe(200)
    expect(await page.text()).toContain((await t.store.sites.byId(t.site2))!.publishable_key)
  })

  test("serves a signed-in admin's first site under a strict CSP with a fresh nonce", async () => {
    const cookie = await sessionOf(owner)
    const a = await demo('/demo', cookie)
    expect(a.status).toBe(200)
    expect(a.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(a.headers.get('cache-control')).toBe('no-store')
    expect(a.headers.get('x-content-type-options')).toBe('nosniff')
    expect(a.headers.get('x-mlc-request-id')).toMatch(/^[0-9a-f]{32}$/)
    // A page for a browser tab: no CORS header lets another origin's script read it.
    expect(a.headers.get('access-control-allow-origin')).toBeNull()
    const csp = a.headers.get('content-security-policy') ?? ''
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1]
    expect(nonce).toBeTruthy()
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).not.toContain('unsafe-eval')
    const html = await a.text()
    const site = (await t.store.sites.byId(t.site1))!
    expect(html).toContain(`mylivechat('boot', { siteKey: "${site.publishable_key}" })`)
    expect(html).toContain('/assets/js/mlc-visitor-sdk.js')
    // Every script and style on the page carries the nonce: nothing inline would run without it.
    const tags = html.match(/<(script|style)\b[^>]*>/g) ?? []
    expect(tags.length).toBeGreaterThanOrEqual(4)
    for (const tag of tags) expect(tag).toContain(`nonce="${nonce}"`)
    expect(html).not.toMatch(/\son[a-z]+=|style="/)
    const b = await demo('/demo', cookie)
    expect(b.headers.get('content-security-policy')).not.toBe(csp)
  })

  test('?site= picks another site the admin may see, and its name is escaped', async () => {
    await t.store.sites.update(t.site2, { name: '<b>Two & "co"</b>', plan: 'growth', rate_limit: null })
    const html = await (await demo(`/demo?site=${t.site2}`, await sessionOf(owner))).text()
    expect(html).toContain((await t.store.sites.byId(t.site2))!.publishable_key)
    expect(html).toContain('&#60;b&#62;Two &#38; &#34;co&#34;&#60;/b&#62;')
    expect(html).not.toContain('<b>Two')
  })

  test("an admin limited to some sites gets theirs, and the same 404 for another's site as for none", async () => {
    const cookie = await sessionOf(siteTwoAdmin)
    const own = await (await demo('/demo', cookie)).text()
    expect(own).toContain((await t.store.sites.byId(t.site2))!.publishable_key)
    const others = [t.site1, site3]
    for (const id of [...others, 999]) {
      const res = await t.call('GET', `/demo?site=${id}`, { token: null, headers: { cookie } })
      expectError(res, 404, 'not_found', 'site')
      expect(res.body.error.message).toBe(`You have no site with id ${id}.`)
      for (const other of others) expect(JSON.stringify(res.body)).not.toContain((await t.store.sites.byId(other))!.publishable_key)
    }
  })

  test('a malformed site is a 400 naming site', async () => {
    expectError(await t.call('GET', '/demo?site=abc', { token: null }), 400, 'bad_request', 'site')
  })
})

describe('/demo with MLC_DEMO_PUBLIC_SITE', () => {
  // Sites 1 and 2 of a fresh database; site 2 is the public demo.
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp({ MLC_DEMO_PUBLIC_SITE: '2' })
  })
  afterAll(() => t.cleanup())

  test('serves that one site to anyone, and nothing else', async () => {
    expect(t.site2).toBe(2)
    const key = async (id: number) => (await t.store.sites.byId(id))!.publishable_key
    for (const path of ['/demo', '/demo?site=2']) {
      const res = await t.request('GET', path, { token: null })
      expect(res.status).toBe(200)
      const html = await res.text()
      expect(html).toContain(await key(2))
      expect(html).not.toContain(await key(1))
    }
    for (const path of ['/demo?site=1', '/demo?site=999']) {
      const res = await t.request('GET', path, { token: null })
      expect(res.status).toBe(303)
      expect(res.headers.get('location')).toStartWith('/dashboard/sign-in?next=')
    }
    // A signed-in admin still reaches the other sites they may see.
    const admin = await createAdmin(t.store, t.clock, { email: 'owner@example.com', password: 'owner password' })
    const { jwt } = await t.app.dashboard.kit.sessions.start(admin, { ip: '127.0.0.1', userAgent: 'test' })
    const one = await t.request('GET', '/demo?site=1', { token: null, headers: { cookie: `mlc_session=${jwt}` } })
    expect(await one.text()).toContain(await key(1))
  })

  test('is an integer option: a site id or 0 for none', () => {
    expect(loadConfig({}, {}).demoPublicSite).toBe(0)
    expect(loadConfig({}, { MLC_DEMO_PUBLIC_SITE: '7' }).demoPublicSite).toBe(7)
    expect(() => loadConfig({}, { MLC_DEMO_PUBLIC_SITE: '-1' })).toThrow(/MLC_DEMO_PUBLIC_SITE/)
    expect(() => loadConfig({}, { MLC_DEMO_PUBLIC_SITE: 'demo' })).toThrow(/MLC_DEMO_PUBLIC_SITE/)
  })
})
