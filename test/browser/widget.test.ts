/**
 * The chat widget in real Chromium against the real server: launcher and panel state, keyboard
 * use, a phone-width screen, a strict CSP page, a whole chat (starter, bot reply, handoff, agent
 * reply through the API arriving live, close, rating, the signed feedback webhook at a loopback
 * receiver), a chat surviving a page load, reset, and the /demo page.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from './chromium'
import { type ApiServer, newPage, snippetPage, startApi, startPageServer, until } from './harness'

const T = 45_000
let api: ApiServer
let pages: ReturnType<typeof startPageServer>
let browser: Browser
const hooks: { headers: Record<string, string>; body: string }[] = []
let receiver: ReturnType<typeof Bun.serve>
let hookSecret = ''

/** An API call with the site's read,write token. */
async function call(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(api.url + path, {
    method,
    headers: { authorization: `Bearer ${api.writeToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const json = await res.json()
  if (!json.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json.data
}

beforeAll(async () => {
  // Site 1 is a public demo: the /demo test opens it as an anonymous visitor would.
  api = await startApi({ MLC_WEBHOOK_ALLOW_PRIVATE: '1', MLC_DEMO_PUBLIC_SITE: '1' })
  pages = startPageServer()
  receiver = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      hooks.push({ headers: Object.fromEntries(req.headers), body: await req.text() })
      return new Response('ok')
    },
  })
  await call('POST', '/v1/kb_articles', {
    title: 'Shipping times',
    body: 'We ship every order within 2 business days. Delivery takes 3 to 5 days in Europe. Express shipping arrives the next day.',
  })
  await call('POST', '/v1/conversation_starters', { prompt: 'How long does shipping take?' })
  hookSecret = (await call('POST', '/v1/webhook_subscriptions', { url: `http://127.0.0.1:${receiver.port}/hooks`, events: ['feedback'] })).secret
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  receiver?.stop(true)
  pages?.stop()
  await api?.stop()
})

const W = '#mylivechat-widget'
const bootLine = () => `mylivechat('boot', { siteKey: '${api.siteKey}', apiUrl: '${api.url}' })`

async function openWidgetPage(page: Page, path: string, opts: Parameters<typeof snippetPage>[1] = {}, headers: Record<string, string> = {}) {
  await page.goto(pages.add(path, snippetPage(api.url, { before: bootLine(), ...opts }), headers))
  await page.locator(`${W} .launcher`).waitFor()
}

const hostState = (page: Page) =>
  page.evaluate((sel) => {
    const host = document.querySelector(sel) as HTMLElement
    return { visible: host.dataset.visible, open: host.dataset.open }
  }, W)

describe('chat widget in Chromium', () => {
  test(
    'show, hide, open and close drive data-visible / data-open and what is on screen',
    async () => {
      const { context, page, errors } = await newPage(browser)
      try {
        // open() queued before anything loaded: the panel is open once the widget arrives.
        await openWidgetPage(page, '/state', { before: `${bootLine()}; mylivechat('open')` })
        expect(await hostState(page)).toEqual({ visible: 'true', open: 'true' })
        await page.locator(`${W} .panel`).waitFor({ state: 'visible' })
        const m = (cmd: string) => page.evaluate((c) => (window as any).mylivechat(c), cmd)
        await m('close')
        expect(await hostState(page)).toEqual({ visible: 'true', open: 'false' })
        await page.locator(`${W} .panel`).waitFor({ state: 'hidden' })
        expect(await page.locator(`${W} .launcher`).isVisible()).toBe(true)
        await m('hide')
        expect(await hostState(page)).toEqual({ visible: 'false', open: 'false' })
        await page.locator(`${W} .launcher`).waitFor({ state: 'hidden' })
        await m('show')
        await page.locator(`${W} .launcher`).waitFor({ state: 'visible' })
        await m('open')
        await page.locator(`${W} .panel`).waitFor({ state: 'visible' })
        await m('hide')
        expect(await hostState(page)).toEqual({ visible: 'false', open: 'false' })
        await page.locator(`${W} .panel`).waitFor({ state: 'hidden' })
        await m('show')
        await page.locator(`${W} .launcher`).click()
        expect(await hostState(page)).toEqual({ visible: 'true', open: 'true' })
        expect(await page.locator(`${W} .launcher`).getAttribute('aria-expanded')).toBe('true')
        const s = await page.evaluate(() => (window as any).mylivechat('state'))
        expect(s).toMatchObject({ visible: true, open: true })
        expect(errors).toEqual([])
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'keyboard: Tab reaches the launcher, Enter opens with focus in the message box, Escape closes back to the launcher',
    async () => {
      const { context, page } = await newPage(browser)
      try {
        await openWidgetPage(page, '/keyboard')
        const focused = () => page.evaluate((sel) => (document.querySelector(sel)?.shadowRoot?.activeElement as HTMLElement | null)?.className ?? null, W)
        for (let i = 0; i < 5 && (await focused()) !== 'launcher'; i++) await page.keyboard.press('Tab')
        expect(await focused()).toBe('launcher')
        await page.keyboard.press('Enter')
        expect((await hostState(page)).open).toBe('true')
        await until(
          async () => (await page.evaluate((sel) => document.querySelector(sel)?.shadowRoot?.activeElement?.tagName, W)) === 'TEXTAREA',
          3000,
          'focus in the message box',
        )
        await page.keyboard.type('How long does shipping take?')
        await page.keyboard.press('Enter')
        await page.locator(`${W} .msg.ai`).first().waitFor()
        await page.keyboard.press('Escape')
        expect((await hostState(page)).open).toBe('false')
        expect(await focused()).toBe('launcher')
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'a whole chat: starter, bot reply, handoff, agent reply through the API, close, rating, and the feedback webhook',
    async () => {
      const { context, page, errors } = await newPage(browser)
      try {
        await openWidgetPage(page, '/chat')
        await page.locator(`${W} .launcher`).click()
        const starter = page.locator(`${W} .starters button`).first()
        expect(await starter.textContent()).toBe('How long does shipping take?')
        await starter.click()
        await page.locator(`${W} .msg.ai`).first().waitFor()
        expect(await page.locator(`${W} .msg.visitor`).count()).toBe(1)
        expect(await page.locator(`${W} .msg.ai`).first().textContent()).toContain('2 business days')
        expect(await page.locator(`${W} .starters button`).count()).toBe(0)

        await page.locator(`${W} button.human`).click()
        await page.locator(`${W} .msg.system`).first().waitFor()
        expect(await page.locator(`${W} .status`).textContent()).toBe('Waiting for a person to join…')
        expect(await page.locator(`${W} button.human`).isHidden()).toBe(true)
        const chat = await page.evaluate(() => JSON.parse(localStorage.getItem('mlc:chat') as string))
        expect(chat.id).toMatch(/^cs_/)
        const handoffs = await call('GET', '/v1/handoffs')
        expect(handoffs.find((h: any) => h.session_id === chat.id)?.handoff_reason).toBe('visitor_requested')

        // The agent answers through the API; the reply arrives over the WebSocket, no reload, no polling.
        await call('POST', '/v1/messages', { session_id: chat.id, text: 'Hi, Ana here. Your parcel left today.' })
        const agent = page.locator(`${W} .msg.agent`).first()
        await agent.waitFor({ timeout: 5000 })
        expect(await agent.textContent()).toContain('Your parcel left today.')
        expect(await page.locator(`${W} .status`).textContent()).toBe('You are chatting with our team')

        await call('POST', `/v1/sessions/${chat.id}?action=close`)
        await page.locator(`${W} form.rating`).waitFor({ state: 'visible', timeout: 5000 })
        expect(await page.locator(`${W} form.composer`).isHidden()).toBe(true)
        expect(await page.locator(`${W} form.rating button[type=submit]`).isDisabled()).toBe(true)
        await page.locator(`${W} .stars button[data-rating="4"]`).click()
        expect(await page.locator(`${W} .stars button[aria-checked="true"]`).getAttribute('data-rating')).toBe('4')
        await page.locator(`${W} form.rating textarea`).fill('Quick and friendly')
        await page.locator(`${W} form.rating button[type=submit]`).click()
        await page.locator(`${W} .thanks`).waitFor({ state: 'visible' })

        const feedback = await call('GET', '/v1/feedback')
        expect(feedback.find((f: any) => f.session_id === chat.id)).toMatchObject({ rating: 4, comment: 'Quick and friendly' })
        const hook = await until(() => hooks.find((h) => h.body.includes(chat.id)), 10_000, 'the feedback webhook')
        const payload = JSON.parse(hook.body)
        expect(JSON.stringify(payload)).toContain('"rating":4')
        expect(JSON.stringify(payload)).toContain('Quick and friendly')
        const expected = `sha256=${createHmac('sha256', hookSecret).update(hook.body).digest('hex')}`
        expect(hook.headers['x-mlc-signature']).toBe(expected)

        // A new chat starts clean.
        await page.locator(`${W} .thanks button`).click()
        await until(async () => (await page.evaluate(() => JSON.parse(localStorage.getItem('mlc:chat') ?? '{}').id)) !== chat.id, 5000, 'a new session')
        expect(await page.locator(`${W} .msg`).count()).toBe(0)
        expect(await page.locator(`${W} form.composer`).isVisible()).toBe(true)
        expect(errors).toEqual([])
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'the chat survives a page load, and reset() drops it',
    async () => {
      const { context, page } = await newPage(browser)
      try {
        await openWidgetPage(page, '/persist', { before: `${bootLine()}; mylivechat('open')` })
        await page.locator(`${W} .starters button`).first().click()
        await page.locator(`${W} .msg.ai`).first().waitFor()
        const id = await page.evaluate(() => JSON.parse(localStorage.getItem('mlc:chat') as string).id)
        await page.reload()
        await page.locator(`${W} .launcher`).waitFor()
        await page.evaluate(() => (window as any).mylivechat('open'))
        await page.locator(`${W} .msg.ai`).first().waitFor()
        expect(await page.locator(`${W} .msg`).count()).toBe(2)
        await page.locator(`${W} button.human`).click()
        await call('POST', '/v1/messages', { session_id: id, text: 'Still here after your reload.' })
        await page.locator(`${W} .msg.agent`).first().waitFor({ timeout: 5000 })

        await page.evaluate(() => (window as any).mylivechat('reset'))
        expect(await page.evaluate(() => localStorage.getItem('mlc:chat'))).toBeNull()
        await until(async () => (await page.locator(`${W} .msg`).count()) === 0, 2000, 'the log to clear')
        await page.evaluate(() => (window as any).mylivechat('close'))
        await page.evaluate(() => (window as any).mylivechat('open'))
        const next = await until(() => page.evaluate(() => JSON.parse(localStorage.getItem('mlc:chat') ?? '{}').id), 5000, 'a new session')
        expect(next).not.toBe(id)
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'an answer for the dropped chat that arrives after reset() does not repaint the new one',
    async () => {
      const { context, page } = await newPage(browser)
      try {
        await openWidgetPage(page, '/late', { before: `${bootLine()}; mylivechat('open')` })
        await page.locator(`${W} .starters button`).first().click()
        await page.locator(`${W} .msg.ai`).first().waitFor()
        // Hold the message fetch that follows a handoff until the chat has been reset.
        let release: () => void = () => {}
        const held = new Promise<void>((resolve) => {
          release = resolve
        })
        let fetches = 0
        await page.route('**/messages?**', async (route) => {
          if (route.request().method() !== 'GET') return route.continue()
          fetches++
          await held
          await route.continue()
        })
        const id = await page.evaluate(() => JSON.parse(localStorage.getItem('mlc:chat') as string).id)
        await page.locator(`${W} button.human`).click()
        await until(() => fetches > 0, 5000, 'the post-handoff fetch')
        // An agent answers (shown through the socket); the held fetch will return it too, late.
        await call('POST', '/v1/messages', { session_id: id, text: 'An answer for the old chat.' })
        await page.locator(`${W} .msg.agent`).first().waitFor({ timeout: 5000 })
        await page.evaluate(() => (window as any).mylivechat('reset'))
        release()
        await Bun.sleep(700)
        expect(await page.locator(`${W} .msg`).count()).toBe(0)
        expect(await page.evaluate(() => localStorage.getItem('mlc:chat'))).toBeNull()
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'the visitor can end the chat and rate it without a comment',
    async () => {
      const { context, page } = await newPage(browser)
      try {
        await openWidgetPage(page, '/end', { before: `${bootLine()}; mylivechat('open')` })
        await page.locator(`${W} textarea[name=text]`).fill('Do you ship to Norway?')
        await page.locator(`${W} form.composer button[type=submit]`).click()
        await page.locator(`${W} .msg.visitor:not(.pending)`).first().waitFor()
        const id = await page.evaluate(() => JSON.parse(localStorage.getItem('mlc:chat') as string).id)
        await page.locator(`${W} button.end`).click()
        await page.locator(`${W} form.rating`).waitFor({ state: 'visible' })
        expect(await page.locator(`${W} .status`).textContent()).toBe('This chat has ended')
        await page.locator(`${W} .stars button[data-rating="5"]`).click()
        await page.locator(`${W} form.rating button[type=submit]`).click()
        await page.locator(`${W} .thanks`).waitFor({ state: 'visible' })
        const session = await call('GET', `/v1/sessions/${id}`)
        expect(session).toMatchObject({ status: 'closed', closed_by: 'visitor' })
        const feedback = await call('GET', '/v1/feedback')
        expect(feedback.find((f: any) => f.session_id === id)).toMatchObject({ rating: 5, comment: null })
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'when the chat cannot open (unknown site key) the panel says so and the page keeps working',
    async () => {
      const { context, page, errors } = await newPage(browser)
      try {
        await page.goto(pages.add('/badkey', snippetPage(api.url, { before: `mylivechat('boot', { siteKey: 'pk_not_a_site', apiUrl: '${api.url}' })` })))
        await page.locator(`${W} .launcher`).click()
        const note = page.locator(`${W} .msg.system`).first()
        await note.waitFor()
        expect(await note.textContent()).toContain('The chat is unavailable right now')
        expect(await page.evaluate(() => localStorage.getItem('mlc:chat'))).toBeNull()
        expect(errors).toEqual([])
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'phone width: the open panel fills the screen and the header button closes it',
    async () => {
      const context = await browser.newContext({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true })
      try {
        const page = await context.newPage()
        await openWidgetPage(page, '/phone')
        await page.locator(`${W} .launcher`).tap()
        const box = await page.locator(`${W} .panel`).boundingBox()
        expect(box).toMatchObject({ x: 0, y: 0, width: 375, height: 667 })
        expect(await page.locator(`${W} .launcher`).isHidden()).toBe(true)
        await page.locator(`${W} button.minimize`).tap()
        expect((await hostState(page)).open).toBe('false')
        expect(await page.locator(`${W} .launcher`).isVisible()).toBe(true)
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'a strict CSP page (nonces only, no unsafe-inline): SDK, widget, styles and WebSocket work without a single violation',
    async () => {
      const { context, page, errors } = await newPage(browser)
      try {
        const nonce = 'cspTest123'
        const ws = api.url.replace(/^http/, 'ws')
        const csp = `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src ${api.url} ${ws}; img-src data:; base-uri 'none'`
        const watch = `<script nonce="${nonce}">window.__violations = []; document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI))</script>`
        await openWidgetPage(page, '/csp', { nonce, head: watch }, { 'content-security-policy': csp })
        // The shadow stylesheet applied: the launcher is fixed bottom-right.
        expect(await page.locator(`${W} .launcher`).evaluate((el) => getComputedStyle(el).position)).toBe('fixed')
        await page.evaluate(() => (window as any).mylivechat('track', 'csp_page_view'))
        await page.locator(`${W} .launcher`).click()
        await page.locator(`${W} .starters button`).first().click()
        await page.locator(`${W} .msg.ai`).first().waitFor()
        await page.locator(`${W} button.human`).click()
        const id = await page.evaluate(() => JSON.parse(localStorage.getItem('mlc:chat') as string).id)
        await call('POST', '/v1/messages', { session_id: id, text: 'Reply over the socket under CSP.' })
        await page.locator(`${W} .msg.agent`).first().waitFor({ timeout: 5000 })
        expect(await page.evaluate(() => (window as any).__violations)).toEqual([])
        expect(errors).toEqual([])

        // The same page with one inline script lacking the nonce: the watcher sees it, so silence above means something.
        const control = await context.newPage()
        const bad = snippetPage(api.url, { nonce, head: watch, before: bootLine(), body: '<script>window.ran = true</script>' })
        await control.goto(pages.add('/csp-control', bad, { 'content-security-policy': csp }))
        await control.locator(`${W} .launcher`).waitFor()
        expect(await control.evaluate(() => (window as any).ran)).toBeUndefined()
        const seen = await until(() => control.evaluate(() => (window as any).__violations as string[]), 3000, 'the control violation')
        expect(seen.some((v) => v.startsWith('script-src'))).toBe(true)
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    '/demo works as served: strict CSP, no violations, the buttons drive the SDK and the widget',
    async () => {
      const { context, page, errors } = await newPage(browser)
      try {
        const violations: string[] = []
        page.on('console', (m) => m.text().includes('Content Security Policy') && violations.push(m.text()))
        await page.goto(`${api.url}/demo`)
        await page.locator(`${W} .launcher`).waitFor()
        await page.locator('button[data-command="identify"]').click()
        await until(async () => (await page.locator('#state').textContent())?.includes('"key": "demo_user"'), 3000, 'the state view')
        await page.locator('button[data-command="track"]').click()
        await page.locator('button[data-command="open"]').click()
        await page.locator(`${W} .panel`).waitFor({ state: 'visible' })
        await page.locator(`${W} .starters button`).first().waitFor()
        await page.locator('button[data-command="hide"]').click()
        expect((await hostState(page)).visible).toBe('false')
        await until(async () => (await page.locator('#state').textContent())?.includes('"outbox": 0'), 5000, 'the outbox to drain')
        const v = await call('GET', '/v1/visitors?key=demo_user')
        expect(v.events.map((e: any) => e.name)).toContain('viewed_pricing')
        expect(violations).toEqual([])
        expect(errors).toEqual([])
      } finally {
        await context.close()
      }
    },
    T,
  )
})
