/**
 * The dashboard over HTTP (app.handle, a temp store, manual clock): sign-in limits per account and
 * per IP, cookie flags, tampered and expired sessions, CSRF, redirects that stay on this host,
 * security headers and the asset cache.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { createAdmin } from '../../src/dashboard/accounts'
import { createTestApp, type TestApp } from '../helpers'

let t: TestApp
const EMAIL = 'admin@example.com'
const PASSWORD = 'a long password'

beforeAll(async () => {
  t = await createTestApp({ MLC_SIGNIN_FAILURES_PER_ACCOUNT: '3', MLC_SIGNIN_FAILURES_PER_IP: '5' })
  await createAdmin(t.store, t.clock, { email: EMAIL, password: PASSWORD })
  await createAdmin(t.store, t.clock, { email: 'other@example.com', password: PASSWORD })
})
afterAll(() => t.cleanup())

interface Browserish {
  cookies: Map<string, string>
  url?: string
}

function cookieHeader(b: Browserish): string {
  return [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
}

function remember(b: Browserish, res: Response): void {
  for (const c of res.headers.getSetCookie()) {
    const [pair = ''] = c.split(';')
    const i = pair.indexOf('=')
    const value = pair.slice(i + 1)
    if (/Max-Age=0/.test(c)) b.cookies.delete(pair.slice(0, i))
    else b.cookies.set(pair.slice(0, i), value)
  }
}

async function get(b: Browserish, path: string, opts: { ip?: string; base?: string } = {}) {
  const res = await t.app.handle(new Request(`${opts.base ?? 'http://localhost'}${path}`, { headers: { cookie: cookieHeader(b) } }), opts.ip ?? '127.0.0.1')
  remember(b, res)
  return { res, text: await res.text() }
}

async function post(b: Browserish, path: string, fields: Record<string, string>, opts: { ip?: string; base?: string } = {}) {
  const res = await t.app.handle(
    new Request(`${opts.base ?? 'http://localhost'}${path}`, {
      method: 'POST',
      headers: { cookie: cookieHeader(b), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    }),
    opts.ip ?? '127.0.0.1',
  )
  remember(b, res)
  return { res, text: await res.text() }
}

function csrfOf(html: string): string {
  return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''
}

async function signInAs(email: string, password: string, ip = '127.0.0.1', base?: string) {
  const b: Browserish = { cookies: new Map() }
  const form = await get(b, '/dashboard/sign-in', { ip, base })
  const r = await post(b, '/dashboard/sign-in', { csrf: csrfOf(form.text), email, password }, { ip, base })
  return { b, ...r }
}

describe('sign-in limits', () => {
  // Each test starts with full buckets, whatever the one before it left.
  afterEach(() => t.clock.advance(60_000))

  test('failed sign-ins are limited per account, and the right password waits too', async () => {
    for (let i = 0; i < 3; i++) expect((await signInAs(EMAIL, 'wrong!', `10.0.0.${i + 1}`)).res.status).toBe(401)
    const limited = await signInAs(EMAIL, PASSWORD, '10.0.0.9')
    expect(limited.res.status).toBe(429)
    expect(Number(limited.res.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(limited.text).toContain('Too many failed sign-ins')
    // Another account from a fresh address is not affected.
    expect((await signInAs('other@example.com', PASSWORD, '10.0.0.10')).res.status).toBe(303)
    // A minute later the bucket has refilled.
    t.clock.advance(60_000)
    expect((await signInAs(EMAIL, PASSWORD, '10.0.0.9')).res.status).toBe(303)
  })

  test('failed sign-ins are limited per IP across accounts', async () => {
    t.clock.advance(60_000)
    for (let i = 0; i < 5; i++) expect((await signInAs(`nobody${i}@example.com`, 'wrong!', '10.1.1.1')).res.status).toBe(401)
    expect((await signInAs(EMAIL, PASSWORD, '10.1.1.1')).res.status).toBe(429)
    expect((await signInAs(EMAIL, PASSWORD, '10.1.1.2')).res.status).toBe(303)
    t.clock.advance(60_000)
  })

  /** A browser that loaded the sign-in form from `ip`; `send` posts it (many may be in flight at once). */
  async function formFrom(ip: string) {
    const b: Browserish = { cookies: new Map() }
    const csrf = csrfOf((await get(b, '/dashboard/sign-in', { ip })).text)
    return { send: (email: string, password: string) => post(b, '/dashboard/sign-in', { csrf, email, password }, { ip }) }
  }

  const statuses = (rs: { res: Response }[]) => rs.map((r) => r.res.status).sort()

  test('30 parallel wrong passwords for one account: only the limit (3) are checked, the rest and the right password get 429', async () => {
    const forms = await Promise.all(Array.from({ length: 30 }, (_, i) => formFrom(`10.2.0.${i + 1}`)))
    const answers = await Promise.all(forms.map((f, i) => f.send(EMAIL, `wrong guess ${i}`)))
    expect(statuses(answers)).toEqual([...Array(3).fill(401), ...Array(27).fill(429)])
    // The right password within the same minute waits too.
    const right = await (await formFrom('10.2.1.1')).send(EMAIL, PASSWORD)
    expect(right.res.status).toBe(429)
    expect(right.text).toContain('Too many failed sign-ins')
  })

  test('30 parallel wrong sign-ins from one address across accounts: only the per-IP limit (5) are checked', async () => {
    const form = await formFrom('10.3.0.1')
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => form.send(`guess${i}@example.com`, 'wrong!')))
    expect(statuses(answers)).toEqual([...Array(5).fill(401), ...Array(25).fill(429)])
    expect((await form.send(EMAIL, PASSWORD)).res.status).toBe(429)
  })

  test('a right password gives its attempt back: after parallel sign-ins, the full limit of wrong ones is still checked', async () => {
    const forms = await Promise.all(Array.from({ length: 6 }, (_, i) => formFrom(`10.4.0.${i + 1}`)))
    expect(statuses(await Promise.all(forms.slice(0, 3).map((f) => f.send(EMAIL, PASSWORD))))).toEqual([303, 303, 303])
    // Three wrong passwords (the limit) are each checked and refused as wrong, not as limited.
    for (const f of forms.slice(3)) expect((await f.send(EMAIL, 'wrong!')).res.status).toBe(401)
    expect((await (await formFrom('10.4.1.1')).send(EMAIL, PASSWORD)).res.status).toBe(429)
  })

  test('a sign-in without the pre-session CSRF token is refused', async () => {
    const b: Browserish = { cookies: new Map() }
    const r = await post(b, '/dashboard/sign-in', { email: EMAIL, password: PASSWORD })
    expect(r.res.status).toBe(403)
    expect(r.res.headers.getSetCookie().some((c) => c.startsWith('mlc_session='))).toBe(false)
  })
})

describe('sessions', () => {
  test('the cookie is HttpOnly, SameSite=Lax, 12 h; Secure when served over https', async () => {
    const plain = await signInAs(EMAIL, PASSWORD)
    const cookie = plain.res.headers.getSetCookie().find((c) => c.startsWith('mlc_session=')) ?? ''
    expect(cookie).toContain('HttpOnly')
    expect(cookie).toContain('SameSite=Lax')
    expect(cookie).toContain('Max-Age=43200')
    expect(cookie).not.toContain('Secure')
    const tls = await signInAs(EMAIL, PASSWORD, '127.0.0.1', 'https://dash.example.com')
    expect(tls.res.headers.getSetCookie().find((c) => c.startsWith('mlc_session='))).toContain('; Secure')
  })

  test('a JWT with a changed subject, a wrong signature, garbage and an expired JWT are refused', async () => {
    const { b } = await signInAs(EMAIL, PASSWORD)
    expect((await get(b, '/dashboard/tags')).res.status).toBe(200)
    const jwt = b.cookies.get('mlc_session') ?? ''
    const [h, p, s] = jwt.split('.')
    const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString())
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: '2' })).toString('base64url')}.${s}`
    for (const bad of [forged, `${h}.${p}.${'A'.repeat(43)}`, 'not-a-jwt']) {
      const r = await get({ cookies: new Map([['mlc_session', bad]]) }, '/dashboard/tags')
      expect(r.res.status).toBe(303)
      expect(r.res.headers.get('location')).toStartWith('/dashboard/sign-in?next=%2Fdashboard%2Ftags')
    }
    t.clock.advance(12 * 3600 * 1000)
    const expired = await get(b, '/dashboard/tags')
    expect(expired.res.status).toBe(303)
    expect(expired.res.headers.get('location')).toContain('expired=1')
  })

  test('signing out needs the CSRF token, then the same cookie is refused', async () => {
    const { b } = await signInAs(EMAIL, PASSWORD)
    const page = await get(b, '/dashboard/tags')
    const jwt = b.cookies.get('mlc_session') ?? ''
    expect((await post(b, '/dashboard/sign-out', {})).res.status).toBe(403)
    const out = await post(b, '/dashboard/sign-out', { csrf: csrfOf(page.text) })
    expect(out.res.status).toBe(303)
    expect(out.res.headers.getSetCookie()[0]).toContain('Max-Age=0')
    expect((await get({ cookies: new Map([['mlc_session', jwt]]) }, '/dashboard/tags')).res.status).toBe(303)
  })

  test('after signing in, next= only leads to dashboard pages on this host', async () => {
    for (const [next, expected] of [
      ['/dashboard/tags?site=1', '/dashboard/tags?site=1'],
      ['https://evil.example/', '/dashboard/config_api_tokens.ascx'],
      ['//evil.example/dashboard', '/dashboard/config_api_tokens.ascx'],
      ['/dashboardx', '/dashboard/config_api_tokens.ascx'],
    ] as const) {
      const b: Browserish = { cookies: new Map() }
      const form = await get(b, '/dashboard/sign-in')
      const r = await post(b, '/dashboard/sign-in', { csrf: csrfOf(form.text), email: EMAIL, password: PASSWORD, next })
      expect(r.res.headers.get('location')).toBe(expected)
    }
  })
})

describe('pages', () => {
  test('pages carry a strict CSP, no-store and the request id; unknown pages are an HTML 404', async () => {
    const { b } = await signInAs(EMAIL, PASSWORD)
    const r = await get(b, '/dashboard/config_api_tokens.ascx')
    expect(r.res.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(r.res.headers.get('x-frame-options')).toBe('DENY')
    expect(r.res.headers.get('cache-control')).toBe('no-store')
    expect(r.res.headers.get('x-mlc-request-id')).toMatch(/^[0-9a-f]{32}$/)
    expect(r.res.headers.get('access-control-allow-origin')).toBeNull()
    expect(r.text).not.toMatch(/<script>|style="/)
    const missing = await get(b, '/dashboard/nowhere')
    expect(missing.res.status).toBe(404)
    expect(missing.res.headers.get('content-type')).toContain('text/html')
    expect((await get(b, '/dashboard')).res.headers.get('location')).toBe('/dashboard/config_api_tokens.ascx')
    expect((await get(b, '/')).res.headers.get('location')).toBe('/dashboard/')
    expect((await get(b, '/?x=1')).res.status).toBe(303)
  })

  test('bad ids in URLs are a 400 page, not a 500', async () => {
    const { b } = await signInAs(EMAIL, PASSWORD)
    for (const q of ['confirm=revoke&id=abc', 'confirm=rotate&id=-1', 'confirm=revoke']) {
      const r = await get(b, `/dashboard/config_api_tokens.ascx?${q}`)
      expect(r.res.status).toBe(400)
      expect(r.text).toContain('Id must be a positive integer.')
    }
    expect((await get(b, '/dashboard/tags?site=abc')).res.status).toBe(404)
  })

  test('chat bot settings: bad values are a 400 page naming the field and change nothing; good ones are saved', async () => {
    const { b } = await signInAs(EMAIL, PASSWORD)
    const form = await get(b, '/dashboard/settings?site=1')
    expect(form.text).toContain('<h2 id="chat-h">Chat bot</h2>')
    const csrf = csrfOf(form.text)
    const defaults = { max_bot_replies: 5, min_confidence: 0.5 }
    const MAX = 'Max_bot_replies must be an integer from 1 to 100.'
    const MIN = 'Min_confidence must be a number from 0 to 1.'
    for (const [max, min, message] of [
      ['0', '0.5', MAX],
      ['101', '0.5', MAX],
      ['2.5', '0.5', MAX],
      ['lots', '0.5', MAX],
      ['', '0.5', MAX],
      ['0x0', '0.5', MAX],
      ['1e3', '0.5', MAX],
      ['0x10', '0.5', MAX],
      ['1e1', '0.5', MAX],
      ['5', '1.5', MIN],
      ['5', '-0.1', MIN],
      ['5', 'half', MIN],
      ['5', '', MIN],
      ['5', 'Infinity', MIN],
      ['5', '0x1', MIN],
    ] as const) {
      const r = await post(b, '/dashboard/settings?site=1', { csrf, action: 'chat', max_bot_replies: max, min_confidence: min })
      expect(r.res.status).toBe(400)
      expect(r.text).toContain(message)
      expect((await t.call('GET', '/v1/chat_settings')).body.data).toEqual(defaults)
    }
    const saved = await post(b, '/dashboard/settings?site=1', { csrf, action: 'chat', max_bot_replies: ' 12 ', min_confidence: '0.3' })
    expect(saved.res.status).toBe(303)
    expect(saved.res.headers.get('location')).toBe('/dashboard/settings?site=1&notice=chat')
    expect((await t.call('GET', '/v1/chat_settings')).body.data).toEqual({ max_bot_replies: 12, min_confidence: 0.3 })
    const after = await get(b, '/dashboard/settings?site=1&notice=chat')
    expect(after.text).toContain('Chat bot settings saved')
    expect(after.text).toContain('name="max_bot_replies" type="number" min="1" max="100" step="1" required value="12"')
    // The other site keeps its own settings.
    expect((await t.call('GET', '/v1/chat_settings', { token: t.otherSiteToken })).body.data).toEqual(defaults)
  })

  test('assets are cacheable with an ETag', async () => {
    const first = await t.app.handle(new Request('http://localhost/dashboard/assets/dashboard.js'))
    const etag = first.headers.get('etag') ?? ''
    expect(first.status).toBe(200)
    expect(first.headers.get('content-type')).toContain('javascript')
    const again = await t.app.handle(new Request('http://localhost/dashboard/assets/dashboard.js', { headers: { 'if-none-match': etag } }))
    expect(again.status).toBe(304)
    expect((await t.app.handle(new Request('http://localhost/dashboard/assets/nope.js'))).status).toBe(404)
  })

  test('the API is unaffected: /dashboardx is not the dashboard', async () => {
    const r = await t.call('GET', '/dashboardx', { token: null })
    expect(r.status).toBe(404)
    expect(r.body.ok).toBe(false)
  })
})
