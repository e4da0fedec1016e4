/**
 * Webhooks pages in real Chromium against the real server, with real receivers on 127.0.0.1
 * (MLC_WEBHOOK_ALLOW_PRIVATE=1): add an endpoint (secret shown once), send a test and watch the
 * delivery appear in the log with its attempt (headers, status, timing, body), a failing
 * endpoint retried from the log, edit events, rotate the secret, deactivate, delete.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import type { Browser } from 'playwright-core'
import { systemClock } from '../../src/clock'
import { createAdmin } from '../../src/dashboard/accounts'
import { alertText, browser, type DashboardServer, freshPage, overflowsSideways, signIn, startDashboardServer } from './dashboard-server'

interface Received {
  body: string
  headers: Headers
}

let srv: DashboardServer
let b: Browser
const received: Received[] = []
let answer = 200
let receiver: ReturnType<typeof Bun.serve>

beforeAll(async () => {
  receiver = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      received.push({ body: await req.text(), headers: req.headers })
      return new Response(answer === 200 ? 'thanks' : 'receiver is down', { status: answer })
    },
  })
  srv = await startDashboardServer({ MLC_WEBHOOK_BACKOFF: '30,60' })
  await createAdmin(srv.server.store, systemClock, { email: 'hooks@example.com', password: 'hooks password' })
  b = await browser()
}, 60_000)
afterAll(async () => {
  await b?.close()
  await srv?.stop()
  receiver?.stop(true)
}, 30_000)

test('add an endpoint, send a test and watch it in the delivery log; a failure is retried from the log', async () => {
  const { context, page } = await freshPage(b)
  await signIn(page, srv.url, 'hooks@example.com', 'hooks password')
  await page.getByRole('link', { name: 'Webhooks' }).click()
  await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor()

  // A URL the service refuses is explained.
  await page.getByLabel('Endpoint URL').fill('ftp://example.com/hook')
  await page.getByRole('button', { name: 'Add endpoint' }).click()
  expect(await alertText(page)).toContain('URL must use http or https.')

  const hookUrl = `http://127.0.0.1:${receiver.port}/hook`
  await page.getByLabel('Endpoint URL').fill(hookUrl)
  await page.getByLabel('Ping (test events)').check()
  await page.getByLabel('Description').fill('local receiver')
  await page.getByRole('button', { name: 'Add endpoint' }).click()
  const secret = ((await page.locator('#webhook-secret').textContent()) ?? '').trim()
  expect(secret).toMatch(/^whsec_/)
  const row = page.getByRole('row', { name: /local receiver/ })
  expect(await row.textContent()).toContain('handoff, feedback, ping')

  await row.getByRole('button', { name: 'Send test' }).click()
  await page.getByRole('heading', { name: /^Delivery dlv_/, level: 1 }).waitFor()
  expect(await page.getByRole('status').first().textContent()).toContain('Test ping sent')
  expect(await page.getByRole('region', { name: 'Summary' }).textContent()).toContain('Succeeded')
  const attempt = page.getByRole('region', { name: 'Attempt 1' })
  expect(await attempt.getByRole('row', { name: /Response status/ }).textContent()).toContain('200')
  expect(await attempt.getByRole('row', { name: /Duration/ }).textContent()).toMatch(/\d+ ms/)
  const headers = attempt.getByRole('table', { name: 'Request headers of attempt 1' })
  expect(await headers.textContent()).toContain('x-mlc-signature')
  expect(await headers.textContent()).toContain('webhook-id')
  expect(await attempt.locator('pre').textContent()).toBe('thanks')

  // The receiver got it, signed with the secret the page showed once.
  const ping = received.at(-1) as Received
  expect(JSON.parse(ping.body).event).toBe('ping')
  expect(ping.headers.get('x-mlc-signature')).toBe(`sha256=${createHmac('sha256', secret).update(ping.body).digest('hex')}`)

  // The log lists it.
  await page.getByRole('link', { name: 'Delivery log' }).click()
  const log = page.getByRole('table', { name: 'Deliveries' })
  expect(await log.locator('tbody tr').count()).toBe(1)
  expect(await log.textContent()).toContain('Succeeded')

  // Now the endpoint fails: the test shows "Failed (retrying)" with a next attempt, and Retry sends again.
  answer = 500
  await page.getByRole('link', { name: 'Endpoints' }).click()
  await page
    .getByRole('row', { name: /local receiver/ })
    .getByRole('button', { name: 'Send test' })
    .click()
  expect(await page.getByRole('region', { name: 'Summary' }).textContent()).toContain('Failed (retrying)')
  expect(await page.getByRole('region', { name: 'Attempt 1' }).locator('pre').textContent()).toBe('receiver is down')
  await page.getByRole('link', { name: 'Delivery log' }).click()
  await page.getByLabel('Status').selectOption('failed')
  await page.getByRole('button', { name: 'Filter' }).click()
  const failed = page.getByRole('table', { name: 'Deliveries' }).locator('tbody tr')
  expect(await failed.count()).toBe(1)
  expect(await failed.textContent()).toContain('HTTP 500')
  answer = 200
  const before = received.length
  await failed.getByRole('button', { name: 'Retry' }).click()
  expect(await page.getByRole('status').first().textContent()).toContain('Delivery queued')
  // The log refreshes itself while the worker delivers the retry.
  await page.getByLabel('Status').selectOption('')
  await page.getByRole('button', { name: 'Filter' }).click()
  await page.waitForFunction(() => document.querySelectorAll('#delivery-log tbody tr .badge.good').length === 2, null, { timeout: 10_000 })
  expect(received.length).toBe(before + 1)
  expect(await overflowsSideways(page)).toBe(false)
  await context.close()
}, 60_000)

test('edit events, rotate the secret (shown once), deactivate, activate and delete an endpoint', async () => {
  const { context, page } = await freshPage(b, { width: 375, height: 740 })
  await signIn(page, srv.url, 'hooks@example.com', 'hooks password')
  await page.goto(`${srv.url}/dashboard/webhooks`)
  expect(await overflowsSideways(page)).toBe(false)
  const row = () => page.getByRole('row', { name: /local receiver/ })

  await row().getByRole('link', { name: 'Edit' }).click()
  await page.getByLabel('Feedback (a visitor rates a chat)').uncheck()
  await page.getByRole('button', { name: 'Save endpoint' }).click()
  expect(await row().textContent()).toContain('handoff, ping')
  expect(await row().textContent()).not.toContain('feedback')

  await row().getByRole('link', { name: 'Edit' }).click()
  for (const label of ['Handoff (a chat goes to a human)', 'Ping (test events)']) await page.getByLabel(label).uncheck()
  await page.getByRole('button', { name: 'Save endpoint' }).click()
  expect(await alertText(page)).toContain('Events must be a non-empty list')
  await page.getByRole('link', { name: 'Cancel' }).click()

  const prefix = ((await row().locator('td[data-label="Secret"]').textContent()) ?? '').replace('…', '')
  await row().getByRole('link', { name: 'Rotate secret' }).click()
  await page.getByRole('button', { name: 'Rotate' }).click()
  const secret = ((await page.locator('#webhook-secret').textContent()) ?? '').trim()
  expect(secret.startsWith(prefix)).toBe(false)
  expect(await page.getByRole('region', { name: /New signing secret/ }).textContent()).toContain('also carry a signature made with the previous secret')

  await row().getByRole('link', { name: 'Deactivate' }).click()
  await page.getByRole('button', { name: 'Deactivate' }).click()
  expect(await row().textContent()).toContain('Inactive')
  expect(await row().getByRole('button', { name: 'Send test' }).count()).toBe(0)
  await row().getByRole('button', { name: 'Activate' }).click()
  expect(await row().textContent()).toContain('Active')

  await row().getByRole('link', { name: 'Delete' }).click()
  await page.getByRole('button', { name: 'Delete' }).click()
  expect(await page.getByRole('status').first().textContent()).toContain('Endpoint deleted')
  expect(await page.getByText('No endpoints yet.').count()).toBe(1)
  await context.close()
}, 60_000)
