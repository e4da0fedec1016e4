/**
 * Retries from the browser in real Chromium against the real server: when the server handled a
 * request but its answer was lost (here: the answer replaced by a 503 on the way back), the SDK's
 * outbox and the chat widget send the request again with the same Idempotency-Key, the server
 * answers the stored response, and the write happened once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser, Page, Route } from 'playwright-core'
import { launchChromium } from './chromium'
import { type ApiServer, newPage, snippetPage, startApi, startPageServer, until } from './harness'

const T = 30_000
let api: ApiServer
let pages: ReturnType<typeof startPageServer>
let browser: Browser

beforeAll(async () => {
  api = await startApi()
  pages = startPageServer()
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  pages?.stop()
  await api?.stop()
})

interface Seen {
  key: string | undefined
  status: number
  replayed: string | null
}

/**
 * Lets POSTs to URLs matching `pattern` through to the server, but answers the first one's browser
 * with a 503 (Retry-After: 1) instead of what the server said: the server did the work, the client
 * does not know it. Records each POST's Idempotency-Key and what the server answered it.
 */
async function loseFirstAnswer(page: Page, pattern: string | RegExp): Promise<Seen[]> {
  const seen: Seen[] = []
  await page.route(pattern, async (route: Route) => {
    const request = route.request()
    if (request.method() !== 'POST') return route.continue()
    const response = await route.fetch()
    seen.push({ key: request.headers()['idempotency-key'], status: response.status(), replayed: response.headers()['idempotent-replayed'] ?? null })
    if (seen.length === 1) {
      return route.fulfill({
        status: 503,
        headers: { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'Retry-After', 'retry-after': '1', 'content-type': 'application/json' },
        body: '{"ok":false,"error":{"code":"unavailable","message":"lost","request_id":"x"}}',
      })
    }
    return route.fulfill({ response })
  })
  return seen
}

describe('retries keep their Idempotency-Key', () => {
  test(
    "the SDK's outbox retries a lost answer with the same key; the server replays it",
    async () => {
      const { context, page } = await newPage(browser)
      try {
        const seen = await loseFirstAnswer(page, `${api.url}/v1/track`)
        await page.goto(
          pages.add('/sdk-retry', snippetPage(api.url, { before: `mylivechat('boot', { siteKey: '${api.siteKey}', apiUrl: '${api.url}', widget: false })` })),
        )
        await page.waitForFunction(() => (window as any).mylivechat?.v === 1, undefined, { polling: 50 })
        await page.evaluate(() => (window as any).mylivechat('track', 'lost_answer'))
        await until(async () => (await page.evaluate(() => (window as any).mylivechat('state'))).outbox === 0, 10_000, 'the outbox to drain')
        expect(seen).toHaveLength(2)
        expect(seen[0]?.key).toMatch(/^[0-9a-f]{32}$/)
        expect(seen[1]?.key).toBe(seen[0]?.key as string)
        expect(seen[0]?.replayed).toBeNull()
        expect(seen[1]).toMatchObject({ status: seen[0]?.status, replayed: 'true' })
      } finally {
        await context.close()
      }
    },
    T,
  )

  test(
    'the widget retries a message whose answer was lost with the same key: it is sent once and shown once',
    async () => {
      const { context, page, errors } = await newPage(browser)
      try {
        const seen = await loseFirstAnswer(page, /\/v1\/widget\/sessions\/[^/]+\/messages/)
        await page.goto(pages.add('/widget-retry', snippetPage(api.url, { before: `mylivechat('boot', { siteKey: '${api.siteKey}', apiUrl: '${api.url}' })` })))
        const W = '#mylivechat-widget'
        await page.locator(`${W} .launcher`).click()
        await page.locator(`${W} textarea[name=text]`).fill('Is anyone there?')
        await page.keyboard.press('Enter')
        await until(() => seen.length === 2, 10_000, 'the retry')
        await page.locator(`${W} .msg.visitor:not(.pending)`).waitFor()
        expect(seen[1]?.key).toBe(seen[0]?.key as string)
        expect(seen[1]?.replayed).toBe('true')
        expect(await page.locator(`${W} .msg.visitor`).count()).toBe(1)
        expect(await page.locator(`${W} .msg.failed`).count()).toBe(0)
        // The server holds the message once.
        const chat = await page.evaluate(() => JSON.parse(localStorage.getItem('mlc:chat') ?? '{}'))
        const res = await fetch(`${api.url}/v1/messages?session_id=${chat.id}`, { headers: { authorization: `Bearer ${api.writeToken}` } })
        const messages = (await res.json()).data as { role: string; text: string }[]
        expect(messages.filter((m) => m.role === 'visitor').map((m) => m.text)).toEqual(['Is anyone there?'])
        expect(errors).toEqual([])
      } finally {
        await context.close()
      }
    },
    T,
  )
})
