/**
 * The API reference page in real Chromium, with every request to a non-loopback origin aborted
 * (as on an offline install): it renders our API from our own origin only, under its CSP, and
 * its "Test Request" reaches this server.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { launchChromium } from './chromium'
import { type ApiServer, newPage, startApi } from './harness'

const T = 30_000
let api: ApiServer
let browser: Browser

beforeAll(async () => {
  api = await startApi()
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await api?.stop()
})

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

describe('/v1/openapi in Chromium', () => {
  test(
    'renders the API title and its operations with no request leaving loopback and no CSP violation',
    async () => {
      const { context, page, errors } = await newPage(browser)
      try {
        const requests: string[] = []
        const outside: string[] = []
        await context.route('**/*', (route) => {
          const url = route.request().url()
          requests.push(url)
          if (LOOPBACK.has(new URL(url).hostname)) return route.continue()
          outside.push(url)
          return route.abort()
        })
        // An init script runs before the page's own and is not subject to its CSP.
        await page.addInitScript(() => {
          const w = window as unknown as { __violations: string[] }
          w.__violations = []
          document.addEventListener('securitypolicyviolation', (e) => w.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`))
        })
        const consoleErrors: string[] = []
        page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()))

        await page.goto(`${api.url}/v1/openapi`)
        await page.getByRole('heading', { name: 'mlc API', level: 1 }).waitFor()
        // The first tag opens by itself: its operations are rendered in the page.
        await page.getByRole('heading', { name: 'Liveness' }).waitFor()
        // Another tag's operation, reached through the sidebar.
        await page.getByRole('button', { name: 'tags' }).first().click()
        await page.getByText('Create a tag').first().click()
        await page.getByRole('heading', { name: 'Create a tag' }).waitFor()

        // "Test Request" (the API client in the page) sends to the origin the page came from.
        await page.getByRole('button', { name: 'Test Request' }).first().click()
        const sent = page.waitForResponse((r) => !new URL(r.url()).pathname.startsWith('/v1/openapi'))
        await page.getByRole('button', { name: /Send/ }).last().click()
        const answer = await sent
        expect(new URL(answer.url()).origin).toBe(api.url)
        expect(answer.headers()['x-mlc-request-id']).toMatch(/^[0-9a-f]{32}$/)

        expect(outside).toEqual([])
        expect(requests.every((u) => u.startsWith(api.url))).toBe(true)
        expect(requests.some((u) => u.includes('/v1/openapi/scalar.js?v='))).toBe(true)
        expect(requests.some((u) => u.endsWith('/v1/openapi.json'))).toBe(true)
        // The one report is Scalar's own probe for eval (zod's JIT check), refused as it should be:
        // the CSP grants no 'unsafe-eval'. Anything else would be something the page needed and lost.
        const violations = await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations)
        const probe = `script-src eval ${api.url}/v1/openapi/scalar.js`
        expect(violations.filter((v) => !v.startsWith(probe))).toEqual([])
        expect(consoleErrors).toEqual([])
        expect(errors).toEqual([])
      } finally {
        await context.close()
      }
    },
    T,
  )
})
