/**
 * The visitor SDK in real Chromium against the real server: the pre-load queue, the identify
 * debounce, immediate track, the persisted outbox (offline, 429 with Retry-After), the 50-event
 * ring, reset, storage that throws, a strict CSP page, identity verification and the launcher
 * and panel state. Pages come from another loopback origin than the API, as on a customer's site.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { SignJWT } from 'jose'
import type { Browser, Page } from 'playwright-core'
import { systemClock } from '../../src/clock'
import { createSite, updateSite } from '../../src/modules/sites/service'
import { launchChromium } from './chromium'
import { type ApiServer, newPage, recordApi, snippetPage, startApi, startPageServer, until } from './harness'

const T = 30_000
let api: ApiServer
let pages: ReturnType<typeof startPageServer>
let browser: Browser

beforeAll(async () => {
  api = await startApi()
  // Many tests share this site and this IP's bucket: give them room (the 429 test uses a site of its own).
  await updateSite(api.server.store, api.siteId, { plan: 'growth' })
  pages = startPageServer()
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  pages?.stop()
  await api?.stop()
})

const boot = (extra = '', key?: string) => `mylivechat('boot', { siteKey: '${key ?? api.siteKey}', apiUrl: '${api.url}'${extra} })`

/** Opens a page with the snippet and waits for the SDK to have replaced the stub. */
async function openSdkPage(page: Page, path: string, opts: Parameters<typeof snippetPage>[1] = {}): Promise<void> {
  await page.goto(pages.add(path, snippetPage(api.url, opts)))
  await page.waitForFunction(() => (window as any).mylivechat?.v === 1, undefined, { polling: 50 })
}

const sdkState = (page: Page) => page.evaluate(() => (window as any).mylivechat('state'))
const stored = (page: Page, key: string) => page.evaluate((k) => JSON.parse(localStorage.getItem(k) ?? 'null'), key)

/** The visitor as the API shows it to a backend (GET with a token), or null. */
async function visitor(key: string): Promise<any> {
  const res = await fetch(`${api.url}/v1/visitors?key=${encodeURIComponent(key)}`, { headers: { authorization: `Bearer ${api.writeToken}` } })
  return res.status === 200 ? (await res.json()).data : null
}

describe('visitor SDK in Chromium', () => {
  test(
    'calls queued before the script loads run in order once it loads, then the stub is gone',
    async () => {
      const { context, page, errors } = await newPage(browser)
      try {
        const rec = recordApi(page, api.url)
        await openSdkPage(page, '/queue', {
          before: `${boot()}; mylivechat('identify', { user_id: 'u_queue', email: 'q@example.com' }); mylivechat('track', 'queued_event', { n: 1 })`,
        })
        expect(await page.evaluate(() => (window as any).mylivechat.q)).toBeUndefined()
        await until(() => rec.to('/v1/track').length === 1 && rec.to('/v1/visitors').length === 1, 5000, 'queued requests')
        // identify was pending when track ran: it was flushed first.
        const posts = rec.all.filter((r) => r.method === 'POST').map((r) => r.path)
        expect(posts).toEqual(['/v1/visitors', '/v1/track'])
        expect(rec.to('/v1/track')[0]?.body).toMatchObject({ key: 'u_queue', name: 'queued_event', properties: { n: 1 } })
        const v = await until(async () => {
          const got = await visitor('u_queue')
          return got?.events?.length === 1 ? got : null
        })
        expect(v.email).toBe('q@example.com')
        expect(v.events[0].name).toBe('queued_event')
        expect(errors).toEqual([])
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'boot takes the product page’s form too: apiToken with apiUrl .../v1/api.ashx; bad calls only warn',
    async () => {
      const { context, page, errors } = await newPage(browser)
      try {
        const rec = recordApi(page, api.url)
        const warnings: string[] = []
        page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()))
        await openSdkPage(page, '/seed-form', {
          before: `mylivechat('boot', { apiToken: '${api.writeToken}', apiUrl: '${api.url}/v1/api.ashx', widget: false }); mylivechat('track', 'viewed_pricing', { tier: 'growth' })`,
        })
        await until(() => rec.to('/v1/track').length === 1, 3000, 'the track request')
        await page.evaluate(() => {
          const m = (window as any).mylivechat
          m('boot', { siteKey: 'pk_other', apiUrl: 'http://127.0.0.1:1' }) // a second boot changes nothing
          m('no_such_command')
          m('track')
          m('identify', 'not an object')
          m('track', 'second')
        })
        await until(() => rec.to('/v1/track').length === 2, 3000, 'the second track')
        expect(rec.all.every((r) => r.path.startsWith('/assets/') || r.path === '/v1/track')).toBe(true)
        expect(warnings.filter((w) => w.startsWith('mylivechat:'))).toHaveLength(3)
        expect(errors).toEqual([])
        const anon = (await sdkState(page)).anon_id
        await until(async () => (await visitor(`anon:${anon}`))?.event_count === 2, 3000, 'both events stored')
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'three identify/update calls within 800 ms make one request with the merged attributes',
    async () => {
      const { context, page } = await newPage(browser)
      try {
        const rec = recordApi(page, api.url)
        await openSdkPage(page, '/debounce', { before: boot(', widget: false') })
        const started = Date.now()
        await page.evaluate(() => {
          const m = (window as any).mylivechat
          m('identify', { user_id: 'u_debounce', plan: 'free' })
          m('identify', { plan: 'pro', seats: 3 })
          m('update', { company: 'Acme' })
        })
        await Bun.sleep(400)
        expect(rec.to('/v1/visitors')).toHaveLength(0)
        await until(() => rec.to('/v1/visitors').length === 1, 3000, 'the debounced identify')
        const sentAfter = (rec.to('/v1/visitors')[0]?.at ?? 0) - started
        expect(sentAfter).toBeGreaterThanOrEqual(700)
        await Bun.sleep(1200)
        expect(rec.to('/v1/visitors')).toHaveLength(1)
        expect(rec.to('/v1/visitors')[0]?.body).toMatchObject({ key: 'u_debounce', plan: 'pro', seats: 3, company: 'Acme' })
        const v = await until(() => visitor('u_debounce'))
        expect(v.attributes).toMatchObject({ plan: 'pro', seats: 3, company: 'Acme' })
        expect((await sdkState(page)).attributes).toEqual({ plan: 'pro', seats: 3, company: 'Acme' })
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'track is sent at once with a generated event_id, after flushing a pending identify',
    async () => {
      const { context, page } = await newPage(browser)
      try {
        const rec = recordApi(page, api.url)
        await openSdkPage(page, '/track', { before: boot(', widget: false') })
        const started = Date.now()
        await page.evaluate(() => {
          const m = (window as any).mylivechat
          m('identify', { user_id: 'u_track', plan: 'growth' })
          m('track', 'clicked_buy', { sku: 'A1' })
        })
        await until(() => rec.to('/v1/track').length === 1, 2000, 'the track request')
        const track = rec.to('/v1/track')[0]!
        expect(track.at - started).toBeLessThan(500)
        expect(rec.to('/v1/visitors')[0]!.at).toBeLessThanOrEqual(track.at)
        expect(track.body.event_id).toMatch(/^[0-9a-f]{32}$/)
        expect(track.body).toMatchObject({ key: 'u_track', name: 'clicked_buy', properties: { sku: 'A1' } })
        expect(new Date(track.body.timestamp).getTime()).toBeGreaterThan(started - 5000)
        const v = await until(async () => ((await visitor('u_track'))?.events?.length ? visitor('u_track') : null))
        expect(v.events[0]).toMatchObject({ name: 'clicked_buy', event_id: track.body.event_id })
        expect(v.attributes.plan).toBe('growth')
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'events tracked anonymously belong to the visitor after the first identify',
    async () => {
      const { context, page } = await newPage(browser)
      try {
        await openSdkPage(page, '/link', { before: boot(', widget: false') })
        await page.evaluate(() => (window as any).mylivechat('track', 'browsed_anonymously'))
        await until(async () => (await sdkState(page)).outbox === 0, 5000, 'the anonymous event to be stored')
        const anon = (await sdkState(page)).anon_id
        await page.evaluate(() => (window as any).mylivechat('identify', { user_id: 'u_linked', name: 'Linked' }))
        const v = await until(async () => {
          const got = await visitor('u_linked')
          return got?.events?.length ? got : null
        })
        expect(v.events.map((e: any) => e.name)).toContain('browsed_anonymously')
        expect(v.name).toBe('Linked')
        expect(await visitor(`anon:${anon}`)).toBeNull()
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'mlc:events keeps the last 50 events: the 51st drops the oldest',
    async () => {
      const { context, page } = await newPage(browser)
      try {
        await openSdkPage(page, '/ring', { before: boot(', widget: false') })
        await page.evaluate(() => {
          for (let i = 1; i <= 55; i++) (window as any).mylivechat('track', `e${i}`, { i })
        })
        const ring = await stored(page, 'mlc:events')
        expect(ring).toHaveLength(50)
        expect(ring[0].name).toBe('e6')
        expect(ring[49]).toMatchObject({ name: 'e55', properties: { i: 55 } })
        expect((await sdkState(page)).events).toEqual(ring)
        await until(async () => (await sdkState(page)).outbox === 0, 10_000, 'all 55 events to be sent')
        const anon = (await sdkState(page)).anon_id
        const v = await visitor(`anon:${anon}`)
        expect(v.event_count).toBe(55)
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'reset wipes identity, attributes, events and outbox, drops a pending identify, and starts a new anonymous id',
    async () => {
      const { context, page } = await newPage(browser)
      try {
        const rec = recordApi(page, api.url)
        await openSdkPage(page, '/reset', { before: boot(', widget: false') })
        await page.evaluate(() => {
          const m = (window as any).mylivechat
          m('identify', { user_id: 'u_reset', plan: 'pro' })
          m('track', 'before_logout')
        })
        await until(async () => (await sdkState(page)).outbox === 0, 5000, 'sends before reset')
        const before = await stored(page, 'mlc:identity')
        expect(before).toMatchObject({ key: 'u_reset', attributes: { plan: 'pro' } })
        await page.evaluate(() => {
          const m = (window as any).mylivechat
          m('identify', { plan: 'enterprise' })
          m('reset')
        })
        const after = await stored(page, 'mlc:identity')
        expect(after.anon_id).toMatch(/^[0-9a-f]{32}$/)
        expect(after.anon_id).not.toBe(before.anon_id)
        expect(after.key).toBeUndefined()
        expect(after.attributes ?? {}).toEqual({})
        expect(await stored(page, 'mlc:events')).toBeNull()
        expect(await stored(page, 'mlc:outbox')).toBeNull()
        const s = await sdkState(page)
        expect(s).toMatchObject({ key: null, attributes: {}, events: [], outbox: 0, pending: null })
        await Bun.sleep(1100)
        expect(rec.to('/v1/visitors')).toHaveLength(1)
        expect((await visitor('u_reset')).attributes.plan).toBe('pro')
        await page.evaluate(() => (window as any).mylivechat('track', 'after_logout'))
        await until(() => rec.to('/v1/track').length === 2, 3000, 'the post-logout track')
        const last = rec.to('/v1/track')[1]!.body
        expect(last.key).toBeUndefined()
        expect(last.anonymous_id).toBe(after.anon_id)
      } finally {
        await context.close()
      }
    },
    T,
  )

  for (const [label, breakStorage] of [
    [
      'localStorage that throws on access (storage disabled)',
      `Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('denied', 'SecurityError') } })`,
    ],
    [
      'localStorage whose writes throw (quota, private mode)',
      `Storage.prototype.setItem = function () { throw new DOMException('full', 'QuotaExceededError') }`,
    ],
  ] as const) {
    test(
      `${label}: the SDK keeps working from memory and the page does not break`,
      async () => {
        const { context, page, errors } = await newPage(browser)
        try {
          const rec = recordApi(page, api.url)
          const user = `u_storage_${label.length}`
          await openSdkPage(page, `/storage-${label.length}`, {
            head: `<script>${breakStorage}</script>`,
            before: `${boot(', widget: false')}; mylivechat('identify', { user_id: '${user}', plan: 'mem' }); mylivechat('track', 'works_without_storage')`,
            body: `<p id="after">page script ran</p><script>document.getElementById('after').dataset.ok = '1'</script>`,
          })
          await until(() => rec.to('/v1/track').length === 1, 5000, 'the track request')
          const s = await sdkState(page)
          expect(s).toMatchObject({ key: user, attributes: { plan: 'mem' } })
          expect(s.events.map((e: any) => e.name)).toEqual(['works_without_storage'])
          await until(async () => (await sdkState(page)).outbox === 0, 5000, 'the outbox to drain')
          expect(await page.getAttribute('#after', 'data-ok')).toBe('1')
          expect(errors).toEqual([])
          const v = await until(async () => ((await visitor(user))?.events?.length ? visitor(user) : null))
          expect(v.attributes.plan).toBe('mem')
        } finally {
          await context.close()
        }
      },
      T,
    )
  }

  test(
    'a failed send waits in the persisted outbox and is delivered once by the next page',
    async () => {
      const { context, page } = await newPage(browser)
      try {
        await openSdkPage(page, '/offline', { before: boot(', widget: false') })
        await context.setOffline(true)
        await page.evaluate(() => (window as any).mylivechat('track', 'sent_while_offline'))
        const box = await until(async () => {
          const b = await stored(page, 'mlc:outbox')
          return b?.[0]?.n >= 1 ? b : null
        })
        expect(box).toHaveLength(1)
        expect(box[0].b).toMatchObject({ name: 'sent_while_offline' })
        const eventId = box[0].b.event_id
        const anon = (await sdkState(page)).anon_id
        await page.close()
        await context.setOffline(false)
        const next = await context.newPage()
        await openSdkPage(next, '/offline-next', { before: boot(', widget: false') })
        await until(async () => (await sdkState(next)).outbox === 0, 5000, 'the outbox to drain on the next page')
        const v = await visitor(`anon:${anon}`)
        expect(v.events.filter((e: any) => e.event_id === eventId)).toHaveLength(1)
        expect(v.event_count).toBe(1)
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'a 429 holds every send until Retry-After, then the outbox delivers the rest',
    async () => {
      // A site allowing 20 requests a minute: one token every 3 s, so Retry-After is 3.
      const site = await createSite(api.server.store, systemClock, { name: 'tight', rateLimit: 20 })
      const { context, page } = await newPage(browser)
      try {
        const rec = recordApi(page, api.url)
        const statuses: { status: number; retryAfter: string | null; at: number }[] = []
        page.on('response', (r) => {
          if (r.url().startsWith(`${api.url}/v1/track`)) statuses.push({ status: r.status(), retryAfter: r.headers()['retry-after'] ?? null, at: Date.now() })
        })
        await openSdkPage(page, '/limited', { before: boot(', widget: false', site.publishable_key) })
        await page.evaluate(() => {
          for (let i = 1; i <= 21; i++) (window as any).mylivechat('track', `burst_${i}`)
        })
        const limited = await until(() => statuses.find((s) => s.status === 429), 5000, 'a 429')
        expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(2)
        const holdMs = Number(limited.retryAfter) * 1000
        // Made during the hold: it waits too.
        await page.evaluate(() => (window as any).mylivechat('track', 'during_hold'))
        await until(async () => (await sdkState(page)).outbox === 0, 15_000, 'the outbox to drain')
        const afterLimit = rec.to('/v1/track').filter((r) => r.at > limited.at)
        expect(afterLimit.length).toBeGreaterThanOrEqual(2)
        for (const r of afterLimit) expect(r.at - limited.at).toBeGreaterThanOrEqual(holdMs - 250)
        const anon = (await sdkState(page)).anon_id
        const res = await fetch(`${api.url}/v1/visitors?key=anon:${anon}`, { headers: { authorization: `Bearer ${api.writeToken}` } })
        expect(res.status).toBe(404) // another site's visitor: this token cannot see it
        // Every event row of the site, read through the store: the 21 of the burst and the one made during the hold.
        const stored22 = { n: 0 }
        for (const id of await api.server.store.visitors.allIds(site.id)) stored22.n += (await api.server.store.visitorEvents.recent(id, 1000)).length
        expect(stored22?.n).toBe(22)
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'pagehide sends a pending identify instead of losing it',
    async () => {
      const { context, page } = await newPage(browser)
      try {
        await openSdkPage(page, '/leave', { before: boot(', widget: false') })
        await page.evaluate(() => (window as any).mylivechat('identify', { user_id: 'u_leaving', plan: 'left' }))
        await page.goto(pages.add('/elsewhere', '<p>elsewhere</p>'))
        const v = await until(() => visitor('u_leaving'), 5000, 'the identify sent on pagehide')
        expect(v.attributes.plan).toBe('left')
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'identity verification: a claimed user_id needs a valid identity token; with one, identify is accepted',
    async () => {
      const settings = await fetch(`${api.url}/v1/site_settings`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${api.writeToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ identity_required: true }),
      }).then((r) => r.json())
      const secret: string = settings.data.identity_secret
      expect(secret).toBeTruthy()
      const { context, page } = await newPage(browser)
      const warnings: string[] = []
      page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()))
      try {
        const statuses: number[] = []
        page.on('response', (r) => r.url().endsWith('/v1/visitors') && statuses.push(r.status()))
        await openSdkPage(page, '/verify', { before: boot(', widget: false') })
        await page.evaluate(() => (window as any).mylivechat('identify', { user_id: 'u_claimed', plan: 'x' }))
        await until(() => statuses.length === 1, 3000, 'the unverified identify')
        expect(statuses[0]).toBe(401)
        expect(await visitor('u_claimed')).toBeNull()
        await until(() => warnings.some((w) => w.startsWith('mylivechat:')), 2000, 'a console warning')
        const jwt = await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('u_verified')
          .setExpirationTime('10m')
          .sign(new TextEncoder().encode(secret))
        await page.evaluate((token) => (window as any).mylivechat('identify', { user_id: 'u_verified', identityToken: token, plan: 'y' }), jwt)
        await until(() => statuses.length === 2, 3000, 'the verified identify')
        expect(statuses[1]).toBeLessThan(300)
        expect((await visitor('u_verified')).attributes.plan).toBe('y')
      } finally {
        await context.close()
        await fetch(`${api.url}/v1/site_settings`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${api.writeToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ identity_required: false }),
        })
      }
    },
    T,
  )
})
