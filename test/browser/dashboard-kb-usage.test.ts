/**
 * Knowledge base and usage pages in real Chromium against the real server: articles added,
 * searched, edited and deleted, and the bot answering a visitor from one; the usage page shows
 * this cycle's AI replies and bot tokens (the same numbers as GET usage) and API requests per day.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { systemClock } from '../../src/clock'
import { createAdmin } from '../../src/dashboard/accounts'
import { createToken } from '../../src/modules/tokens/service'
import { alertText, browser, type DashboardServer, freshPage, overflowsSideways, signIn, startDashboardServer } from './dashboard-server'

let srv: DashboardServer
let b: Browser
let token: string

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: res.status, body: (await res.json()) as any }
}

/** A visitor asks the bot one question through the widget's endpoints; returns the reply. */
async function askBot(text: string): Promise<any> {
  const siteKey = (await srv.server.store.sites.byId(1))?.publishable_key as string
  const anon = `anon-${Date.now()}`
  const opened = await post('/v1/widget/sessions', { site_key: siteKey, anon_id: anon })
  const { session_id } = opened.body.data
  return post(`/v1/widget/sessions/${session_id}/messages`, { text, anon_id: anon }, { 'x-mlc-site-key': siteKey })
}

beforeAll(async () => {
  srv = await startDashboardServer()
  await createAdmin(srv.server.store, systemClock, { email: 'kb@example.com', password: 'kb password' })
  token = (await createToken(srv.server.store, systemClock, { siteId: 1, scopes: 'read', name: 'reader' })).token
  b = await browser()
}, 60_000)
afterAll(async () => {
  await b?.close()
  await srv?.stop()
}, 30_000)

test('articles: add (the bot answers from it), search, edit, refuse a blank title, delete', async () => {
  const { context, page } = await freshPage(b)
  await signIn(page, srv.url, 'kb@example.com', 'kb password')
  await page.getByRole('link', { name: 'Knowledge base' }).click()
  await page.getByRole('heading', { name: 'Knowledge base', level: 1 }).waitFor()

  await page.getByLabel('Title').fill('Shipping times')
  await page.getByLabel('Body').fill('We ship every order within 2 business days. Delivery takes 3 to 5 days in Europe.')
  await page.getByRole('button', { name: 'Add article' }).click()
  expect(await page.getByRole('status').first().textContent()).toContain('Article added')
  await page.getByLabel('Title').fill('Returns')
  await page.getByLabel('Body').fill('You can return any item within 30 days for a full refund.')
  await page.getByRole('button', { name: 'Add article' }).click()

  await page.getByLabel('Search articles').fill('refund')
  await page.getByRole('button', { name: 'Search' }).click()
  const rows = page.getByRole('table', { name: 'Articles' }).locator('tbody tr')
  expect(await rows.count()).toBe(1)
  expect(await rows.textContent()).toContain('Returns')
  await page.getByRole('link', { name: 'Show all' }).click()
  expect(await rows.count()).toBe(2)

  await page
    .getByRole('row', { name: /Shipping times/ })
    .getByRole('link', { name: 'Edit' })
    .click()
  await page.getByLabel('Title').fill('   ')
  await page.getByRole('button', { name: 'Save article' }).click()
  expect(await alertText(page)).toContain('Title must not be blank.')
  await page.getByLabel('Title').fill('Shipping')
  await page.getByRole('button', { name: 'Save article' }).click()
  expect(await page.getByRole('status').first().textContent()).toContain('Article saved.')

  const answer = await askBot('How long does shipping take?')
  expect(answer.status).toBe(201)
  expect(answer.body.data.reply.role).toBe('ai')
  expect(answer.body.data.reply.text).toContain('2 business days')

  await page
    .getByRole('row', { name: /Returns/ })
    .getByRole('link', { name: 'Delete' })
    .click()
  await page.getByRole('button', { name: 'Delete' }).click()
  expect(await page.getByRole('status').first().textContent()).toContain('Article deleted')
  expect(await rows.count()).toBe(1)
  await context.close()
}, 60_000)

test('usage: this cycle as the API reports it, and API requests per day; phone width', async () => {
  for (let i = 0; i < 3; i++) expect((await fetch(`${srv.url}/v1/tags`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
  const api = (await (await fetch(`${srv.url}/v1/usage`, { headers: { authorization: `Bearer ${token}` } })).json()) as any
  expect(api.data.ai_replies).toBeGreaterThanOrEqual(1)

  const { context, page } = await freshPage(b, { width: 375, height: 740 })
  await signIn(page, srv.url, 'kb@example.com', 'kb password')
  await page.getByRole('link', { name: 'Usage' }).click()
  await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor()
  expect(await page.locator('#usage-ai-replies').textContent()).toBe(String(api.data.ai_replies))
  expect(await page.locator('#usage-bot-tokens').textContent()).toBe(new Intl.NumberFormat('en').format(api.data.bot_tokens))
  // 3 calls above plus the usage call itself.
  expect(await page.locator('#usage-api-requests').textContent()).toBe('4')
  expect(await page.getByRole('img', { name: /API requests per day/ }).getAttribute('aria-label')).toContain('4 in total')
  expect(await overflowsSideways(page)).toBe(false)
  await context.close()
}, 60_000)
