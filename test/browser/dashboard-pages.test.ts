/**
 * Every dashboard page in the navigation, in real Chromium at phone width: it renders its heading,
 * nothing scrolls sideways, every form control has an accessible name, the first Tab lands on
 * "Skip to content", and the page loads with no console errors or CSP violations.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { systemClock } from '../../src/clock'
import { createAdmin } from '../../src/dashboard/accounts'
import { browser, type DashboardServer, freshPage, overflowsSideways, signIn, startDashboardServer } from './dashboard-server'

let srv: DashboardServer
let b: Browser

beforeAll(async () => {
  srv = await startDashboardServer()
  await createAdmin(srv.server.store, systemClock, { email: 'sweep@example.com', password: 'sweep password' })
  b = await browser()
}, 60_000)
afterAll(async () => {
  await b?.close()
  await srv?.stop()
}, 30_000)

test('each page at 375 px: heading, no sideways scroll, labelled controls, skip link first, no errors', async () => {
  const { context, page } = await freshPage(b, { width: 375, height: 740 })
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text())
  })
  page.on('pageerror', (e) => problems.push(String(e)))
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`)
  })
  await signIn(page, srv.url, 'sweep@example.com', 'sweep password')
  const links = await page
    .getByRole('navigation', { name: 'Dashboard' })
    .getByRole('link')
    .evaluateAll((as) => as.map((a) => [a.textContent ?? '', (a as HTMLAnchorElement).href]))
  expect(links.map(([name]) => name)).toEqual([
    'API tokens',
    'Inbox',
    'Webhooks',
    'Visitors',
    'Segments',
    'Starters',
    'Knowledge base',
    'Tags',
    'Usage',
    'Settings',
  ])
  for (const [name, url] of links) {
    const res = await page.goto(url as string)
    expect(res?.status(), name).toBe(200)
    expect(await page.getByRole('heading', { level: 1 }).count(), name).toBe(1)
    expect(await overflowsSideways(page), `${name} scrolls sideways`).toBe(false)
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
        .filter((el) => {
          const e = el as HTMLInputElement
          const named = (e.labels && e.labels.length > 0) || e.getAttribute('aria-label') || (e.tagName === 'BUTTON' && e.textContent?.trim())
          return !named
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    )
    expect(unlabelled, `${name} has unlabelled controls`).toEqual([])
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.textContent), name).toBe('Skip to content')
  }
  expect(problems).toEqual([])
  await context.close()
}, 90_000)
