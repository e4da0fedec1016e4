/**
 * Conversation starters and site settings in real Chromium against the real server: starters
 * added, reordered, disabled, edited and deleted (checked through the API the widget reads);
 * the plan (owners only), the publishable key with its install snippet, and identity
 * verification with its secret shown once (checked by a publishable-key call being refused), and
 * the chat bot settings (checked through GET /v1/chat_settings).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { systemClock } from '../../src/clock'
import { createAdmin } from '../../src/dashboard/accounts'
import { createToken } from '../../src/modules/tokens/service'
import { alertText, browser, type DashboardServer, freshPage, overflowsSideways, signIn, startDashboardServer } from './dashboard-server'

let srv: DashboardServer
let b: Browser
let token: string

async function api(method: string, path: string, opts: { body?: unknown; auth?: string } = {}) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${opts.auth ?? token}`, 'content-type': 'application/json' },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  })
  return { status: res.status, headers: res.headers, body: (await res.json()) as any }
}

beforeAll(async () => {
  srv = await startDashboardServer()
  await createAdmin(srv.server.store, systemClock, { email: 'owner@example.com', password: 'owner password' })
  await createAdmin(srv.server.store, systemClock, { email: 'agent@example.com', password: 'agent password', siteIds: [1] })
  token = (await createToken(srv.server.store, systemClock, { siteId: 1, scopes: 'read', name: 'reader' })).token
  b = await browser()
}, 60_000)
afterAll(async () => {
  await b?.close()
  await srv?.stop()
}, 30_000)

describe('conversation starters', () => {
  test('add, order, disable, edit and delete starters; the API the widget reads follows', async () => {
    const { context, page } = await freshPage(b)
    await signIn(page, srv.url, 'agent@example.com', 'agent password')
    await page.getByRole('link', { name: 'Starters' }).click()
    await page.getByRole('heading', { name: 'Conversation starters', level: 1 }).waitFor()

    await page.getByLabel('Prompt').fill('   ')
    await page.getByRole('button', { name: 'Add starter' }).click()
    expect(await alertText(page)).toContain('Prompt must be 1-200 characters.')

    await page.getByLabel('Prompt').fill('What does it cost?')
    await page.getByLabel('Position').fill('5')
    await page.getByRole('button', { name: 'Add starter' }).click()
    await page.getByLabel('Prompt').fill('How do I reset my password?')
    await page.getByLabel('Position').fill('1')
    await page.getByRole('button', { name: 'Add starter' }).click()
    expect(await page.getByRole('status').first().textContent()).toContain('Starter added.')
    let shown = (await api('GET', '/v1/api.ashx?resource=conversation_starters')).body.data.map((s: { prompt: string }) => s.prompt)
    expect(shown).toEqual(['How do I reset my password?', 'What does it cost?'])

    await page
      .getByRole('row', { name: /What does it cost/ })
      .getByRole('button', { name: 'Disable' })
      .click()
    expect(await page.getByRole('status').first().textContent()).toContain('Starter disabled')
    shown = (await api('GET', '/v1/conversation_starters')).body.data.map((s: { prompt: string }) => s.prompt)
    expect(shown).toEqual(['How do I reset my password?'])

    await page
      .getByRole('row', { name: /reset my password/ })
      .getByRole('link', { name: 'Edit' })
      .click()
    await page.getByLabel('Prompt').fill('I forgot my password')
    await page.getByRole('button', { name: 'Save starter' }).click()
    expect((await api('GET', '/v1/conversation_starters')).body.data[0].prompt).toBe('I forgot my password')

    await page
      .getByRole('row', { name: /forgot my password/ })
      .getByRole('link', { name: 'Delete' })
      .click()
    await page.getByRole('button', { name: 'Delete' }).click()
    expect(await page.getByRole('status').first().textContent()).toContain('Starter deleted.')
    expect((await api('GET', '/v1/conversation_starters?all=true')).body.data.map((s: { prompt: string }) => s.prompt)).toEqual(['What does it cost?'])
    await context.close()
  }, 60_000)
})

describe('site settings', () => {
  test('the owner changes the plan; the rate limit follows', async () => {
    const { context, page } = await freshPage(b)
    await signIn(page, srv.url, 'owner@example.com', 'owner password')
    await page.getByRole('link', { name: 'Settings' }).click()
    await page.getByRole('heading', { name: 'Site settings', level: 1 }).waitFor()
    expect(await page.getByRole('region', { name: 'Plan' }).textContent()).toContain('60 requests per minute per token')
    await page.getByRole('combobox', { name: 'Plan' }).selectOption('growth')
    await page.getByRole('button', { name: 'Save plan' }).click()
    expect(await page.getByRole('status').first().textContent()).toContain('Plan saved')
    await Bun.sleep(600) // the auth cache re-reads sites within a second
    const r = await api('GET', '/v1/tags')
    expect(r.headers.get('x-ratelimit-limit')).toBe('600')
    await context.close()
  }, 60_000)

  test('publishable key and snippet; identity verification with a secret shown once; rotation', async () => {
    const { context, page } = await freshPage(b, { width: 375, height: 740 })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url })
    await signIn(page, srv.url, 'agent@example.com', 'agent password')
    await page.goto(`${srv.url}/dashboard/settings`)
    expect(await overflowsSideways(page)).toBe(false)
    const site = await srv.server.store.sites.byId(1)
    const pk = site?.publishable_key ?? ''
    expect(await page.locator('#publishable-key').textContent()).toBe(pk)
    const snippet = (await page.locator('#install-snippet').textContent()) ?? ''
    expect(snippet).toContain(`siteKey: '${pk}'`)
    expect(snippet).toContain(`${srv.url}/assets/js/mlc-visitor-sdk.js`)
    await page.getByRole('button', { name: 'Copy snippet' }).click()
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(snippet)

    // A site admin sees the plan but cannot change it, even with a forged form.
    expect(await page.getByRole('button', { name: 'Save plan' }).count()).toBe(0)
    const csrf = await page.locator('input[name=csrf]').first().inputValue()
    const forged = await page.evaluate(
      async ([c]) =>
        (
          await fetch('/dashboard/settings?site=1', {
            method: 'POST',
            body: new URLSearchParams({ csrf: c as string, action: 'plan', plan: 'free', name: 'x' }),
          })
        ).status,
      [csrf],
    )
    expect(forged).toBe(403)

    // Anyone may identify any key with the publishable key until verification is required.
    const identify = () => api('POST', '/v1/visitors', { auth: pk, body: { key: 'u_1', name: 'Claimed' } })
    expect((await identify()).status).toBe(201)
    await page.getByLabel('Require identity verification').check()
    await page.getByRole('button', { name: 'Save verification setting' }).click()
    const secret = ((await page.locator('#identity-secret').textContent()) ?? '').trim()
    expect(secret).toMatch(/^mlcid_/)
    expect(await page.getByRole('region', { name: 'Identity verification' }).textContent()).toContain('Required')
    const refused = await identify()
    expect(refused.status).toBe(401)
    expect(refused.body.error.message).toContain('identity verification')

    await page.getByRole('link', { name: 'Rotate identity secret' }).click()
    await page.getByRole('button', { name: 'Rotate' }).click()
    const rotated = ((await page.locator('#identity-secret').textContent()) ?? '').trim()
    expect(rotated).toMatch(/^mlcid_/)
    expect(rotated).not.toBe(secret)
    await page.goto(`${srv.url}/dashboard/settings`)
    expect(await page.getByText(rotated).count()).toBe(0) // shown once

    await page.getByLabel('Require identity verification').uncheck()
    await page.getByRole('button', { name: 'Save verification setting' }).click()
    expect(await page.getByRole('status').first().textContent()).toContain('Identity verification is off')
    expect((await identify()).status).toBe(200)
    await context.close()
  }, 60_000)

  test('chat bot settings: the defaults shown, both changed through the form and read back through the API', async () => {
    const { context, page } = await freshPage(b)
    await signIn(page, srv.url, 'agent@example.com', 'agent password')
    await page.goto(`${srv.url}/dashboard/settings`)
    const section = page.getByRole('region', { name: 'Chat bot' })
    expect(await section.textContent()).toContain('after 5 bot replies (default)')
    expect(await page.getByLabel('Max bot replies').inputValue()).toBe('5')
    expect(await page.getByLabel('Minimum confidence').inputValue()).toBe('0.5')
    expect((await api('GET', '/v1/chat_settings')).body.data).toEqual({ max_bot_replies: 5, min_confidence: 0.5 })

    await page.getByLabel('Max bot replies').fill('8')
    await page.getByLabel('Minimum confidence').fill('0.75')
    await page.getByRole('button', { name: 'Save chat bot settings' }).click()
    expect(await page.getByRole('status').first().textContent()).toContain('Chat bot settings saved')
    expect(await section.textContent()).toContain("after 8 bot replies, or when the knowledge-base bot's confidence is below 0.75.")
    expect(await page.getByLabel('Max bot replies').inputValue()).toBe('8')
    expect(await page.getByLabel('Minimum confidence').inputValue()).toBe('0.75')
    expect((await api('GET', '/v1/chat_settings')).body.data).toEqual({ max_bot_replies: 8, min_confidence: 0.75 })
    await context.close()
  }, 60_000)

  test('chat bot settings: a bad value is refused naming the field, and the stored values stay', async () => {
    const { context, page } = await freshPage(b)
    await signIn(page, srv.url, 'agent@example.com', 'agent password')
    await page.goto(`${srv.url}/dashboard/settings`)
    const before = (await api('GET', '/v1/chat_settings')).body.data
    const form = page.getByRole('region', { name: 'Chat bot' }).locator('form')

    // Chromium's own check stops an out-of-range number before it is sent.
    await page.getByLabel('Max bot replies').fill('101')
    await page.getByRole('button', { name: 'Save chat bot settings' }).click()
    expect(await page.getByLabel('Max bot replies').evaluate((el) => (el as HTMLInputElement).validity.rangeOverflow)).toBe(true)
    expect(await alertText(page)).toBeNull()

    // What gets past the browser, the server refuses with the API's own message.
    for (const [field, value, message] of [
      ['Max bot replies', '0', 'Max_bot_replies must be an integer from 1 to 100.'],
      ['Max bot replies', '2.5', 'Max_bot_replies must be an integer from 1 to 100.'],
      ['Minimum confidence', '1.5', 'Min_confidence must be a number from 0 to 1.'],
      ['Minimum confidence', '-0.1', 'Min_confidence must be a number from 0 to 1.'],
    ] as const) {
      await page.goto(`${srv.url}/dashboard/settings`)
      await form.evaluate((f) => {
        ;(f as HTMLFormElement).noValidate = true
      })
      await page.getByLabel(field).fill(value)
      await page.getByRole('button', { name: 'Save chat bot settings' }).click()
      expect(await alertText(page)).toContain(message)
      expect(await page.getByLabel(field).inputValue()).toBe(value) // kept for correcting
      expect((await api('GET', '/v1/chat_settings')).body.data).toEqual(before)
      expect(await page.getByRole('region', { name: 'Chat bot' }).textContent()).toContain(`after ${before.max_bot_replies} bot replies`)
    }
    await context.close()
  }, 60_000)
})
