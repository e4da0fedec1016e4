/** The tags page in real Chromium: create, duplicate refused in plain words, edit, delete (confirmed), phone width. */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { createAdmin } from '../../src/dashboard/accounts'
import { listTags } from '../../src/modules/tags/service'
import { alertText, browser, type DashboardServer, freshPage, overflowsSideways, signIn, startDashboardServer } from './dashboard-server'

let srv: DashboardServer
let b: Browser

beforeAll(async () => {
  srv = await startDashboardServer()
  await createAdmin(srv.server.store, { now: () => Date.now() }, { email: 'tags@example.com', password: 'tags password' })
  b = await browser()
}, 60_000)
afterAll(async () => {
  await b?.close()
  await srv?.stop()
}, 30_000)

test('create, refuse a duplicate, rename, recolor and delete a tag', async () => {
  const { context, page } = await freshPage(b, { width: 375, height: 740 })
  await signIn(page, srv.url, 'tags@example.com', 'tags password')
  await page.getByRole('link', { name: 'Tags' }).click()
  await page.getByRole('heading', { name: 'Tags', level: 1 }).waitFor()
  expect(await page.getByRole('link', { name: 'Tags' }).getAttribute('aria-current')).toBe('page')

  await page.getByLabel('Name').fill('billing')
  await page.getByLabel('Color').fill('#2563eb')
  await page.getByRole('button', { name: 'Create tag' }).click()
  expect(await page.getByRole('status').first().textContent()).toContain('Tag created.')
  expect(await listTags(srv.server.store, 1)).toEqual([{ id: expect.any(Number), name: 'billing', color: '#2563eb' }])

  await page.getByLabel('Name').fill('billing')
  await page.getByRole('button', { name: 'Create tag' }).click()
  expect(await alertText(page)).toContain('A tag named "billing" already exists.')
  expect((await listTags(srv.server.store, 1)).length).toBe(1)

  await page
    .getByRole('row', { name: /billing/ })
    .getByRole('link', { name: 'Edit' })
    .click()
  await page.getByLabel('Name').fill('invoices')
  await page.getByLabel('Color').fill('#15803d')
  await page.getByRole('button', { name: 'Save tag' }).click()
  expect(await page.getByRole('status').first().textContent()).toContain('Tag saved.')
  expect((await listTags(srv.server.store, 1))[0]).toMatchObject({ name: 'invoices', color: '#15803d' })
  expect(await overflowsSideways(page)).toBe(false)

  await page
    .getByRole('row', { name: /invoices/ })
    .getByRole('link', { name: 'Delete' })
    .click()
  await page.getByRole('button', { name: 'Delete' }).click()
  expect(await page.getByRole('status').first().textContent()).toContain('Tag deleted.')
  expect(await listTags(srv.server.store, 1)).toEqual([])
  await context.close()
}, 60_000)
