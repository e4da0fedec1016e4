/**
 * The agent inbox in real Chromium against the real server: a visitor chats in the widget on the
 * server's /demo page and asks for a human; the handoff appears in the inbox without a reload
 * (dashboard WebSocket); the agent opens it, reads the transcript with the AI summary, replies,
 * and the reply shows in the visitor's widget; the visitor's answer appears live; closing the
 * chat offers the visitor the rating. The live channel refuses strangers and closes on sign-out.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { systemClock } from '../../src/clock'
import { createAdmin } from '../../src/dashboard/accounts'
import { createSite } from '../../src/modules/sites/service'
import { browser, type DashboardServer, freshPage, overflowsSideways, signIn, startDashboardServer } from './dashboard-server'

const W = '#mylivechat-widget'
let srv: DashboardServer
let b: Browser

beforeAll(async () => {
  // Site 1 is a public demo: the visitor chats on /demo without signing in.
  srv = await startDashboardServer({ MLC_DEMO_PUBLIC_SITE: '1' })
  await createAdmin(srv.server.store, systemClock, { email: 'ana@example.com', password: 'agent password' })
  b = await browser()
}, 60_000)
afterAll(async () => {
  await b?.close()
  await srv?.stop()
}, 30_000)

/** Opens a WebSocket with the given headers; resolves with the first frame or the close/error. */
function probe(url: string, headers: Record<string, string>): Promise<{ opened: boolean; first?: string; code?: number; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers } as never)
    ws.onmessage = (e) => resolve({ opened: true, first: String(e.data), ws })
    ws.onclose = (e) => resolve({ opened: false, code: e.code })
    ws.onerror = () => resolve({ opened: false })
  })
}

describe('inbox', () => {
  test('a handoff appears live; the agent answers from the inbox and the visitor sees it in the widget', async () => {
    const agent = await freshPage(b)
    await signIn(agent.page, srv.url, 'ana@example.com', 'agent password')
    await agent.page.getByRole('link', { name: 'Inbox' }).click()
    await agent.page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor()
    await agent.page.getByText('Live: new chats and messages appear here.').waitFor()
    expect(await agent.page.getByRole('region', { name: /Waiting for a human/ }).textContent()).toContain('Nobody is waiting.')
    await agent.page.evaluate(() => {
      ;(window as unknown as { notReloaded: boolean }).notReloaded = true
    })

    // The visitor, on the demo page the server ships, asks for a human in the widget.
    const visitor = await freshPage(b)
    await visitor.page.goto(`${srv.url}/demo`)
    await visitor.page.locator(`${W} .launcher`).click()
    await visitor.page.locator(`${W} form.composer textarea`).fill('My parcel is late, I want to talk to a human')
    await visitor.page.locator(`${W} form.composer textarea`).press('Enter')
    await visitor.page.locator(`${W} .status`).getByText('Waiting for a person to join').waitFor()

    // It shows up in the inbox without a reload.
    const waiting = agent.page.getByRole('region', { name: /Waiting for a human/ })
    await waiting.getByRole('link', { name: 'Anonymous visitor' }).waitFor({ timeout: 10_000 })
    expect(await waiting.textContent()).toContain('asked for a human')
    expect(await agent.page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true)

    await waiting.getByRole('link', { name: 'Anonymous visitor' }).click()
    await agent.page.getByRole('heading', { name: 'Chat with Anonymous visitor' }).waitFor()
    expect(await agent.page.getByRole('region', { name: 'AI summary' }).textContent()).toContain('parcel')
    const transcript = agent.page.getByRole('list', { name: 'Transcript' })
    expect(await transcript.textContent()).toContain('My parcel is late, I want to talk to a human')

    await agent.page.getByLabel('Reply', { exact: true }).fill('Hi, Ana here. Your parcel left today.')
    await agent.page.getByRole('button', { name: 'Send reply' }).click()
    expect(await agent.page.getByRole('status').first().textContent()).toContain('Reply sent')

    // The visitor's widget shows the reply, with the agent's name.
    const reply = visitor.page.locator(`${W} .msg.agent`).first()
    await reply.waitFor({ timeout: 10_000 })
    expect(await reply.textContent()).toContain('Your parcel left today.')
    expect(await reply.textContent()).toContain('ana')
    expect(await visitor.page.locator(`${W} .status`).textContent()).toBe('You are chatting with our team')

    // The visitor answers; the open transcript updates live.
    await agent.page.evaluate(() => {
      ;(window as unknown as { notReloaded: boolean }).notReloaded = true
    })
    await visitor.page.locator(`${W} form.composer textarea`).fill('Great, thank you!')
    await visitor.page.locator(`${W} form.composer textarea`).press('Enter')
    await transcript.getByText('Great, thank you!').waitFor({ timeout: 10_000 })
    expect(await agent.page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true)
    expect(
      await agent.page
        .getByRole('region', { name: /With an agent/ })
        .getByRole('link', { name: 'Anonymous visitor' })
        .count(),
    ).toBe(1)

    // Closing asks first, then the visitor is offered the rating.
    await agent.page.getByRole('link', { name: 'Close chat' }).click()
    await agent.page.getByRole('button', { name: 'Close chat' }).click()
    expect(await agent.page.getByRole('status').first().textContent()).toContain('Chat closed')
    expect(await agent.page.getByRole('button', { name: 'Send reply' }).count()).toBe(0)
    await visitor.page.locator(`${W} form.rating`).waitFor({ state: 'visible', timeout: 10_000 })
    await visitor.context.close()
    await agent.context.close()
  }, 90_000)

  test("at phone width the inbox stacks; another site's chat id in the URL is refused", async () => {
    const other = await createSite(srv.server.store, systemClock, { name: 'Elsewhere' })
    const scoped = 'scoped@example.com'
    await createAdmin(srv.server.store, systemClock, { email: scoped, password: 'scoped password', siteIds: [1] })
    const { context, page } = await freshPage(b, { width: 375, height: 740 })
    await signIn(page, srv.url, scoped, 'scoped password')
    await page.goto(`${srv.url}/dashboard/inbox`)
    expect(await overflowsSideways(page)).toBe(false)
    const closed = page
      .getByRole('region', { name: /Recently closed/ })
      .getByRole('link')
      .first()
    await closed.click()
    expect(await page.getByRole('list', { name: 'Transcript' }).count()).toBe(1)
    expect(await overflowsSideways(page)).toBe(false)
    const sessionId = new URL(page.url()).searchParams.get('session') as string
    const wrongSite = await page.goto(`${srv.url}/dashboard/inbox?site=${other.id}&session=${sessionId}`)
    expect(wrongSite?.status()).toBe(404)
    const unknown = await page.goto(`${srv.url}/dashboard/inbox?session=cs_notarealsession`)
    expect(unknown?.status()).toBe(404)
    await context.close()
  }, 60_000)

  test('the live channel needs a session cookie and this origin, and closes when the admin signs out', async () => {
    const ws = srv.url.replace('http', 'ws')
    expect((await probe(`${ws}/dashboard/ws?site=1`, {})).opened).toBe(false)
    const { context, page } = await freshPage(b)
    await signIn(page, srv.url, 'ana@example.com', 'agent password')
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ')
    expect((await probe(`${ws}/dashboard/ws?site=1`, { cookie, origin: 'http://evil.example' })).opened).toBe(false)
    expect((await probe(`${ws}/dashboard/ws?site=999`, { cookie, origin: srv.url })).opened).toBe(false)
    const live = await probe(`${ws}/dashboard/ws?site=1`, { cookie, origin: srv.url })
    expect(live.opened).toBe(true)
    expect(JSON.parse(live.first as string)).toEqual({ type: 'hello', site_id: 1 })
    const closed = new Promise<number>((resolve) => {
      ;(live.ws as WebSocket).onclose = (e) => resolve(e.code)
    })
    await page.goto(`${srv.url}/dashboard/inbox`)
    await page.getByRole('button', { name: 'Sign out' }).click()
    expect(await closed).toBe(4001)
    expect((await probe(`${ws}/dashboard/ws?site=1`, { cookie, origin: srv.url })).opened).toBe(false)
    await context.close()
  }, 60_000)
})
