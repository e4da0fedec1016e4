/**
 * Dashboard accounts in real Chromium against the real server: the first admin through the
 * one-time setup link, sign-out revoking the session, and the refusals: wrong password, expired
 * session, missing CSRF token, another site's token id or site id in a URL.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { ManualClock } from '../../src/clock'
import { createAdmin } from '../../src/dashboard/accounts'
import { createSite } from '../../src/modules/sites/service'
import { createToken } from '../../src/modules/tokens/service'
import { alertText, browser, type DashboardServer, freshPage, signIn, startDashboardServer } from './dashboard-server'

const TOKENS = '/dashboard/config_api_tokens.ascx'
let srv: DashboardServer
let b: Browser

beforeAll(async () => {
  srv = await startDashboardServer()
  b = await browser()
}, 60_000)
afterAll(async () => {
  await b?.close()
  await srv?.stop()
}, 30_000)

describe('first run and sessions', () => {
  test('the setup link creates the first admin once; sign-out revokes the session cookie', async () => {
    const { context, page } = await freshPage(b)
    expect(srv.setupUrl()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dashboard\/setup\?token=setup_/)
    await page.goto(srv.setupUrl())
    await page.getByLabel('Email').fill('Owner@Example.com')
    await page.getByLabel('Password').fill('correct horse battery')
    await page.getByRole('button', { name: 'Create admin' }).click()
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor()
    expect(new URL(page.url()).pathname).toBe(TOKENS)

    const session = (await context.cookies()).find((c) => c.name === 'mlc_session')
    expect(session?.httpOnly).toBe(true)
    expect(session?.sameSite).toBe('Lax')
    expect(session?.secure).toBe(false) // plain http on loopback; https adds Secure (test/dashboard/http.test.ts)
    expect((session?.expires ?? 0) - Date.now() / 1000).toBeGreaterThan(12 * 3600 - 60)

    // One-time: the same link now refuses.
    const again = await page.goto(srv.setupUrl())
    expect(again?.status()).toBe(404)
    expect(await alertText(page)).toContain('used already')

    await page.goto(`${srv.url}${TOKENS}`)
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    expect(await page.getByRole('status').first().textContent()).toContain('You are signed out')

    // The old JWT is still validly signed, but the session behind it is revoked.
    await context.addCookies([{ name: 'mlc_session', value: session?.value ?? '', url: srv.url }])
    await page.goto(`${srv.url}${TOKENS}`)
    expect(new URL(page.url()).pathname).toBe('/dashboard/sign-in')
    await context.close()
  }, 30_000)

  test('a wrong password is refused in plain words; the right one signs in', async () => {
    const { context, page } = await freshPage(b)
    await signIn(page, srv.url, 'owner@example.com', 'wrong password!')
    expect(new URL(page.url()).pathname).toBe('/dashboard/sign-in')
    expect(await alertText(page)).toContain('The email or password is wrong.')
    expect(await page.getByLabel('Email').inputValue()).toBe('owner@example.com')
    expect((await context.cookies()).some((c) => c.name === 'mlc_session')).toBe(false)

    await page.getByLabel('Password').fill('correct horse battery')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor()
    await context.close()
  }, 30_000)

  test('a page asked for while signed out comes back after signing in', async () => {
    const { context, page } = await freshPage(b)
    await page.goto(`${srv.url}/dashboard/tags`)
    expect(new URL(page.url()).pathname).toBe('/dashboard/sign-in')
    await page.getByLabel('Email').fill('owner@example.com')
    await page.getByLabel('Password').fill('correct horse battery')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Tags', level: 1 }).waitFor()
    await context.close()
  }, 30_000)
})

describe('refusals', () => {
  test('a form without its CSRF token is refused and changes nothing', async () => {
    const { context, page } = await freshPage(b)
    await signIn(page, srv.url, 'owner@example.com', 'correct horse battery')
    const before = (await srv.server.store.tokens.listBySite(1)).length
    await page.getByLabel('Name').fill('no csrf')
    await page.evaluate(() => {
      for (const el of document.querySelectorAll('input[name=csrf]')) el.remove()
    })
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Create token' }).click(),
    ])
    expect(response.status()).toBe(403)
    expect(await alertText(page)).toContain('This form has expired or did not come from this dashboard')
    expect((await srv.server.store.tokens.listBySite(1)).length).toBe(before)

    // A token from another session does not pass either.
    await page.goto(`${srv.url}${TOKENS}`)
    await page.evaluate(() => {
      for (const el of document.querySelectorAll<HTMLInputElement>('input[name=csrf]')) el.value = 'x'.repeat(el.value.length)
    })
    await page.getByLabel('Name').fill('forged csrf')
    await page.getByRole('button', { name: 'Create token' }).click()
    expect(await alertText(page)).toContain('did not come from this dashboard')
    expect((await srv.server.store.tokens.listBySite(1)).length).toBe(before)
    await context.close()
  }, 30_000)

  test("an admin of one site cannot reach another site's token or site by URL", async () => {
    const { store } = srv.server
    const clock = { now: () => Date.now() }
    const other = await createSite(store, clock, { name: 'Other company' })
    const foreign = await createToken(store, clock, { siteId: other.id, scopes: 'read', name: 'foreign' })
    await createAdmin(store, clock, { email: 'agent@example.com', password: 'agent password', siteIds: [1] })

    const { context, page } = await freshPage(b)
    await signIn(page, srv.url, 'agent@example.com', 'agent password')
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor()
    expect(await page.getByLabel('Site').count()).toBe(0) // one site: no switcher

    const confirm = await page.goto(`${srv.url}${TOKENS}?site=1&confirm=revoke&id=${foreign.id}`)
    expect(confirm?.status()).toBe(404)
    expect(await alertText(page)).toContain(`No token with id ${foreign.id}.`)

    const site = await page.goto(`${srv.url}${TOKENS}?site=${other.id}`)
    expect(site?.status()).toBe(404)
    expect(await alertText(page)).toContain(`You have no site with id ${other.id}.`)

    // A forged POST naming the other site's token (through a real form of this site).
    await page.goto(`${srv.url}${TOKENS}`)
    await page.getByLabel('Name').fill('mine')
    await page.getByRole('button', { name: 'Create token' }).click()
    await page.goto(`${srv.url}${TOKENS}`)
    await page.getByRole('row', { name: /mine/ }).getByRole('button', { name: 'Revoke' }).click()
    await page.evaluate((id) => {
      const input = document.querySelector<HTMLInputElement>('form[method=post] input[name=id]')
      if (input) input.value = String(id)
    }, foreign.id)
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Revoke', exact: true }).click(),
    ])
    expect(response.status()).toBe(404)
    expect((await store.tokens.byId(foreign.id))?.revoked_ms).toBeNull()
    await context.close()

    // The owner (no --site) sees both sites and can switch.
    const owner = await freshPage(b)
    await signIn(owner.page, srv.url, 'owner@example.com', 'correct horse battery')
    await owner.page.getByLabel('Site').selectOption(String(other.id))
    await owner.page.waitForURL(new RegExp(`site=${other.id}`))
    await owner.page.getByRole('row', { name: /foreign/ }).waitFor()
    await owner.context.close()
  }, 30_000)
})

describe('expiry', () => {
  test('a session older than 12 h is refused and sends the admin to sign in again', async () => {
    const clock = new ManualClock(Date.now())
    const timed = await startDashboardServer({}, clock)
    try {
      await createAdmin(timed.server.store, clock, { email: 'late@example.com', password: 'late password' })
      const { context, page } = await freshPage(b)
      await signIn(page, timed.url, 'late@example.com', 'late password')
      await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor()

      clock.advance(12 * 3600 * 1000 - 60_000)
      await page.goto(`${timed.url}${TOKENS}`)
      await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor()

      clock.advance(61_000)
      await page.goto(`${timed.url}${TOKENS}`)
      expect(new URL(page.url()).pathname).toBe('/dashboard/sign-in')
      expect(await page.getByRole('status').first().textContent()).toContain('Your session ended')
      await context.close()
    } finally {
      await timed.stop()
    }
  }, 30_000)
})
