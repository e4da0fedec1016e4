/**
 * Visitors and segments pages in real Chromium against the real server, with data sent through
 * the API as a customer would: the rule editor (conditions and JSON), member counts, the members
 * list, search by email and key, a profile with attributes, events and segments, and erasure.
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

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as any }
}

beforeAll(async () => {
  srv = await startDashboardServer()
  await createAdmin(srv.server.store, systemClock, { email: 'audience@example.com', password: 'audience password' })
  token = (await createToken(srv.server.store, systemClock, { siteId: 1, scopes: 'read,write', name: 'seed' })).token
  expect((await api('POST', '/v1/api.ashx?resource=visitors', { key: 'u_42', email: 'jay@example.com', name: 'Jay', plan: 'pro' })).status).toBe(201)
  expect((await api('POST', '/v1/visitors', { key: 'u_7', email: 'ann@example.com', name: 'Ann', plan: 'free' })).status).toBe(201)
  for (let i = 0; i < 3; i++)
    expect((await api('POST', '/v1/api.ashx?resource=track', { key: 'u_42', name: 'viewed_pricing', properties: { tier: 'growth' } })).status).toBe(201)
  b = await browser()
}, 60_000)
afterAll(async () => {
  await b?.close()
  await srv?.stop()
}, 30_000)

test('build a segment with the rule editor, see its members, fix a bad rule, nest one as JSON', async () => {
  const { context, page } = await freshPage(b)
  await signIn(page, srv.url, 'audience@example.com', 'audience password')
  await page.getByRole('link', { name: 'Segments' }).click()
  await page.getByRole('heading', { name: 'Segments', level: 1 }).waitFor()

  const form = page.getByRole('form', { name: 'New segment' })
  await form.getByLabel('Name', { exact: true }).fill('Pricing-curious pros')
  const first = form.getByRole('group', { name: 'Condition 1' })
  await first.getByLabel('Attribute').fill('plan')
  await first.getByLabel('Comparison').selectOption('eq')
  await first.getByLabel('Value').fill('pro')
  await form.getByRole('button', { name: 'Add condition' }).click()
  // The page came back with a second row and kept what was typed.
  expect(await form.getByLabel('Name', { exact: true }).inputValue()).toBe('Pricing-curious pros')
  const second = form.getByRole('group', { name: 'Condition 2' })
  await second.getByLabel('Type').selectOption('event')
  expect(await second.getByLabel('Attribute').isVisible()).toBe(false) // the script shows the event fields only
  await second.getByLabel('Event name').fill('viewed_pricing')
  await second.getByLabel('How often').selectOption('gte')
  await second.getByLabel('Times').fill('3')
  await second.getByLabel('Within days').fill('7')
  await form.getByRole('button', { name: 'Create segment' }).click()
  expect(await page.getByRole('status').first().textContent()).toContain('Segment created')
  const row = page.getByRole('row', { name: /Pricing-curious pros/ })
  expect(await row.getByRole('link', { name: '1 members of Pricing-curious pros' }).count()).toBe(1)
  expect(await row.textContent()).toContain('plan is "pro" and did “viewed_pricing” at least 3× in the last 7 days')

  // The API sees the same segment and membership.
  const seg = (await api('GET', '/v1/segments')).body.data[0]
  expect(seg.rule).toEqual({
    all: [
      { attribute: 'plan', op: 'eq', value: 'pro' },
      { event: 'viewed_pricing', count: { gte: 3 }, within_days: 7 },
    ],
  })
  expect(seg.member_count).toBe(1)

  // Members link -> the visitors list filtered by the segment.
  await row.getByRole('link', { name: /members of/ }).click()
  await page.getByRole('heading', { name: 'Visitors', level: 1 }).waitFor()
  const keys = await page.getByRole('table', { name: 'Visitors' }).locator('tbody tr td[data-label="Key"]').allTextContents()
  expect(keys).toEqual(['u_42'])

  // A rule the service refuses is explained, saying where the problem is.
  await page.getByRole('link', { name: 'Segments' }).click()
  await form.getByLabel('Name', { exact: true }).fill('Broken')
  await form.getByRole('group', { name: 'Condition 1' }).getByLabel('Attribute').fill('plan')
  await form.getByRole('group', { name: 'Condition 1' }).getByLabel('Comparison').selectOption('in')
  await form.getByRole('button', { name: 'Create segment' }).click()
  expect(await alertText(page)).toContain('Condition 1 (value): in needs an array of 1-100 strings')
  expect(await form.getByLabel('Name', { exact: true }).inputValue()).toBe('Broken')

  // Nested rules go in as JSON.
  await form.getByLabel('Name', { exact: true }).fill('Free or pricing')
  await page.getByText('Advanced: the rule as JSON').click()
  await form
    .getByLabel('Rule as JSON')
    .fill(
      JSON.stringify({ any: [{ attribute: 'plan', op: 'eq', value: 'free' }, { all: [{ event: 'viewed_pricing' }, { attribute: 'email', op: 'exists' }] }] }),
    )
  await form.getByRole('button', { name: 'Create segment' }).click()
  expect(
    await page
      .getByRole('row', { name: /Free or pricing/ })
      .getByRole('link', { name: '2 members of Free or pricing' })
      .count(),
  ).toBe(1)

  // Editing the count re-evaluates membership.
  await page
    .getByRole('row', { name: /Pricing-curious pros/ })
    .getByRole('link', { name: 'Edit' })
    .click()
  await page.getByRole('group', { name: 'Condition 2' }).getByLabel('Times').fill('4')
  await page.getByRole('button', { name: 'Save segment' }).click()
  expect(
    await page
      .getByRole('row', { name: /Pricing-curious pros/ })
      .getByRole('link', { name: '0 members of Pricing-curious pros' })
      .count(),
  ).toBe(1)
  await context.close()
}, 60_000)

test('find visitors by email and key, read a profile, erase it; phone width', async () => {
  const { context, page } = await freshPage(b, { width: 375, height: 740 })
  await signIn(page, srv.url, 'audience@example.com', 'audience password')
  await page.goto(`${srv.url}/dashboard/visitors`)
  expect(await overflowsSideways(page)).toBe(false)

  await page.getByLabel('Key or email').fill('JAY@example.com')
  await page.getByRole('button', { name: 'Search' }).click()
  expect(await page.getByRole('table', { name: 'Visitors' }).locator('tbody tr').count()).toBe(1)
  expect(await page.getByRole('table', { name: 'Visitors' }).textContent()).toContain('u_42')

  await page.getByLabel('Key or email').fill('nobody')
  await page.getByRole('button', { name: 'Search' }).click()
  expect(await alertText(page)).toContain('No visitor with key "nobody".')

  await page.getByLabel('Key or email').fill('u_42')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.getByRole('heading', { name: 'Visitor u_42', level: 1 }).waitFor()
  expect(await page.getByRole('table', { name: 'Profile' }).textContent()).toContain('jay@example.com')
  expect(await page.getByRole('table', { name: 'Attributes' }).textContent()).toContain('pro')
  const events = page.getByRole('table', { name: 'Recent events' })
  expect(await events.locator('tbody tr').count()).toBe(3)
  expect(await events.textContent()).toContain('tier: growth')
  expect(await page.getByRole('region', { name: 'Segments' }).getByRole('link', { name: 'Free or pricing' }).count()).toBe(1)
  expect(await overflowsSideways(page)).toBe(false)

  await page.getByRole('link', { name: 'Erase visitor' }).click()
  expect(await page.getByText('3 events').count()).toBe(1)
  await page.getByRole('button', { name: 'Erase' }).click()
  expect(await page.getByRole('status').first().textContent()).toContain('Visitor erased')
  expect((await api('GET', '/v1/visitors?key=u_42')).status).toBe(404)
  await context.close()
}, 60_000)
