/**
 * The tokens page in real Chromium against the real server: from the setup link to a working
 * token and a first API call in the browser alone; usage and the 30-day chart; rotate and revoke
 * behind a confirmation (the API answers 401 afterwards); errors in plain words; phone width and
 * keyboard-only use.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { alertText, browser, type DashboardServer, freshPage, overflowsSideways, signIn, startDashboardServer } from './dashboard-server'

const TOKENS = '/dashboard/config_api_tokens.ascx'
const EMAIL = 'owner@example.com'
const PASSWORD = 'tokens page password'
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

async function api(path: string, token: string, init: RequestInit = {}) {
  const res = await fetch(`${srv.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })
  return { status: res.status, body: (await res.json()) as any }
}

async function createOnPage(page: Page, name: string, scopes: 'Read' | 'Read + write'): Promise<string> {
  await page.getByLabel('Name').fill(name)
  await page.getByLabel(scopes, { exact: true }).check()
  await page.getByRole('button', { name: 'Create token' }).click()
  return ((await page.locator('#new-token').textContent()) ?? '').trim()
}

describe('tokens page', () => {
  test('setup link -> sign in -> create a token -> it works with the API -> revoke -> 401', async () => {
    const { context, page } = await freshPage(b)
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url })
    await page.goto(srv.setupUrl())
    await page.getByLabel('Email').fill(EMAIL)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Create admin' }).click()
    await page.getByRole('button', { name: 'Sign out' }).click()
    await signIn(page, srv.url, EMAIL, PASSWORD)
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor()
    expect(await page.getByText('No tokens yet').count()).toBe(1)

    const token = await createOnPage(page, 'CRM sync', 'Read + write')
    expect(token).toMatch(/^mlc_[\w-]{43}$/)
    expect(await page.getByRole('heading', { name: /Token “CRM sync” created/ }).count()).toBe(1)

    // The copy button puts the raw token on the clipboard; the curl line is the quickstart's.
    await page.getByRole('button', { name: 'Copy', exact: true }).click()
    await page.getByText('Copied.').waitFor()
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token)
    const curl = (await page.locator('#new-token-curl').textContent()) ?? ''
    expect(curl).toBe(`curl "${srv.url}/v1/api.ashx?resource=tags" \\\n  -H "Authorization: Bearer ${token}"`)

    // Use it exactly as the page says.
    const tags = await api('/v1/api.ashx?resource=tags', token)
    expect(tags.status).toBe(200)
    expect(tags.body.ok).toBe(true)
    const who = await api('/v1/whoami', token)
    expect(who.body.data.scopes).toEqual(['read', 'write'])
    expect((await api('/v1/tags', token, { method: 'POST', body: JSON.stringify({ name: 'from-dashboard-token' }) })).status).toBe(201)

    // The row shows the usage, including requests not flushed yet, and the chart counts today.
    await page.goto(`${srv.url}${TOKENS}`)
    const row = page.getByRole('row', { name: /CRM sync/ })
    expect(await row.locator('td.requests').textContent()).toBe('3')
    expect(await row.getByRole('img').getAttribute('aria-label')).toContain('3 in total')
    expect(await row.locator('rect.bar:not(.zero)').count()).toBe(1)
    expect(await row.getByText('read, write').count()).toBe(1)
    expect(await row.locator('td[data-label="Last used"] time').count()).toBe(1)
    expect(await page.getByText(token).count()).toBe(0) // never shown again

    // Revoke, with a confirmation step whose button is named like the action.
    await row.getByRole('button', { name: 'Revoke' }).click()
    await page.getByRole('heading', { name: 'Revoke token' }).waitFor()
    expect(await page.getByText('Every app using it gets 401 at once').count()).toBe(1)
    await page.getByRole('button', { name: 'Revoke' }).click()
    expect(await page.getByRole('status').first().textContent()).toContain('Token revoked')
    expect(
      await page
        .getByRole('row', { name: /CRM sync/ })
        .getByText('Revoked')
        .count(),
    ).toBe(1)
    expect(
      await page
        .getByRole('row', { name: /CRM sync/ })
        .getByRole('button')
        .count(),
    ).toBe(0)
    const revoked = await api('/v1/api.ashx?resource=tags', token)
    expect(revoked.status).toBe(401)
    expect(revoked.body.error.code).toBe('unauthorized')
    await context.close()
  }, 60_000)

  test('rotate shows the new value once; the old one stops working; cancel changes nothing', async () => {
    const { context, page } = await freshPage(b)
    await signIn(page, srv.url, EMAIL, PASSWORD)
    const old = await createOnPage(page, 'Reporting', 'Read')
    expect((await api('/v1/tags', old)).status).toBe(200)
    expect((await api('/v1/tags', old, { method: 'POST', body: JSON.stringify({ name: 'x' }) })).status).toBe(403)

    await page.goto(`${srv.url}${TOKENS}`)
    await page
      .getByRole('row', { name: /Reporting/ })
      .getByRole('button', { name: 'Rotate' })
      .click()
    await page.getByRole('link', { name: 'Cancel' }).click()
    expect((await api('/v1/tags', old)).status).toBe(200)

    await page
      .getByRole('row', { name: /Reporting/ })
      .getByRole('button', { name: 'Rotate' })
      .click()
    await page.getByRole('heading', { name: 'Rotate token' }).waitFor()
    await page.getByRole('button', { name: 'Rotate' }).click()
    const fresh = ((await page.locator('#new-token').textContent()) ?? '').trim()
    expect(fresh).toMatch(/^mlc_/)
    expect(fresh).not.toBe(old)
    expect((await api('/v1/tags', old)).status).toBe(401)
    expect((await api('/v1/tags', fresh)).status).toBe(200)
    await context.close()
  }, 60_000)

  test('bad input is explained in plain words and the form keeps what was typed', async () => {
    const { context, page } = await freshPage(b)
    await signIn(page, srv.url, EMAIL, PASSWORD)
    await page.getByLabel('Name').fill('   ')
    await page.getByLabel('Read + write').check()
    await page.getByRole('button', { name: 'Create token' }).click()
    expect(await alertText(page)).toContain('Name must be 1-100 characters.')
    expect(await page.getByLabel('Read + write').isChecked()).toBe(true)
    await context.close()
  }, 30_000)

  test('at phone width nothing scrolls sideways and a token can be created with the keyboard alone', async () => {
    const { context, page } = await freshPage(b, { width: 375, height: 740 })
    await signIn(page, srv.url, EMAIL, PASSWORD)
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor()
    expect(await overflowsSideways(page)).toBe(false)

    // Keyboard only: focus the name field, type, move to the scopes, then press the button.
    await page.getByLabel('Name').focus()
    await page.keyboard.type('Phone')
    await page.keyboard.press('Tab') // the checked radio ("Read")
    await page.keyboard.press('ArrowDown') // "Read + write"
    await page.keyboard.press('Tab') // "Create token"
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Create token')
    await page.keyboard.press('Enter')
    const token = ((await page.locator('#new-token').textContent()) ?? '').trim()
    expect(token).toMatch(/^mlc_/)
    expect((await api('/v1/whoami', token)).body.data.scopes).toEqual(['read', 'write'])
    expect(await overflowsSideways(page)).toBe(false)
    await context.close()
  }, 30_000)
})
