/**
 * Live chat and cache invalidation across two instances: two real servers (startServer, Bun.serve
 * with the WebSocket channels) on one PostgreSQL database and one Redis of the test's own (it is
 * stopped and started again below), as a load balancer without sticky sessions would spread
 * clients over them:
 * - a widget socket on instance 1 receives the agent reply posted through instance 2;
 * - an agent socket on instance 2 sees the visitor's message sent to instance 1, once;
 * - a dashboard session signed out on one instance has its live socket on the other closed;
 * - a token revoked on instance 1 is refused on instance 2 within a second (the auth cache
 *   follows `auth_epoch` in the database), its agent socket there is closed, and a site's plan
 *   changed on one is seen by the other within a second;
 * - Redis stopped: each instance still serves its own sockets; restarted: the sockets that may
 *   have missed events get {"type":"resync"} and delivery across instances resumes within seconds;
 * - the widget in Chromium, served by instance 1, shows an agent reply it missed while Redis was
 *   down (posted through instance 2) once Redis is back, though a newer message of its own came
 *   in between;
 * - without MLC_REDIS_URL, a server on PostgreSQL logs that a second instance would need Redis.
 * Runs when MLC_TEST_DATABASE_URL and MLC_TEST_REDIS_URL are set (.ci/run sets both) and Debian's
 * redis-server is installed.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { loadConfig } from '../../src/config'
import { createAdmin } from '../../src/dashboard/accounts'
import { createLogger } from '../../src/log'
import { updateSite } from '../../src/modules/sites/service'
import { createToken, revokeToken } from '../../src/modules/tokens/service'
import { type RunningServer, startServer } from '../../src/server'
import { launchChromium } from '../browser/chromium'
import { snippetPage, startPageServer } from '../browser/harness'
import { freshPostgresDatabase, TEST_DATABASE_URL, type TestDatabase } from '../db/postgres/harness'
import { tempDir } from '../helpers'
import { HAVE_REDIS_SERVER, OwnRedis, TEST_REDIS_URL, testKeyPrefix } from '../shared/redis-server'
import { FrameSocket as Socket } from './frame-socket'

const clock = { now: () => Date.now() }

/** Waits until `check` resolves true, polling every 20 ms; resolves with the time it took. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<number> {
  const started = performance.now()
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`)
    await Bun.sleep(20)
  }
  return performance.now() - started
}

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL || !HAVE_REDIS_SERVER)('two instances on one PostgreSQL and one Redis', () => {
  const redis = new OwnRedis()
  const dirs = [tempDir(), tempDir()]
  const logs: string[][] = [[], []]
  let db: TestDatabase
  let one: RunningServer
  let two: RunningServer
  let writeToken: string
  let siteKey: string

  const call = async (server: RunningServer, method: string, path: string, body?: unknown, token: string | null = writeToken) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as any }
  }
  const wsOf = (server: RunningServer) => server.url.replace('http', 'ws')
  /** Opens a widget chat through `server` for a new anonymous visitor. */
  const openChat = async (server: RunningServer) => {
    const anon = `cluster-${crypto.randomUUID()}`
    const opened = await call(server, 'POST', '/v1/widget/sessions', { site_key: siteKey, anon_id: anon }, null)
    expect(opened.status).toBe(201)
    const sid: string = opened.body.data.session_id
    const visitorSays = (via: RunningServer, text: string) =>
      call(via, 'POST', `/v1/widget/sessions/${sid}/messages`, { site_key: siteKey, anon_id: anon, text }, null)
    const socketOn = (via: RunningServer) => new Socket(`${wsOf(via)}/v1/widget/ws?session_id=${sid}&site_key=${siteKey}&anon_id=${anon}`)
    return { sid, visitorSays, socketOn }
  }

  beforeAll(async () => {
    await redis.start()
    db = await freshPostgresDatabase({ migrate: false })
    const prefix = testKeyPrefix('cluster-chat')
    const configFor = (dir: string) =>
      loadConfig(
        {},
        { MLC_DATA_DIR: dir, MLC_PORT: '0', MLC_HOST: '127.0.0.1', MLC_DATABASE_URL: db.url, MLC_REDIS_URL: redis.url, MLC_REDIS_KEY_PREFIX: prefix },
      )
    // Both start at once on the empty database (one migrates, the other waits for it).
    const started = await Promise.all(
      [0, 1].map((i) =>
        startServer(configFor(dirs[i] as string), { logger: createLogger({ level: 'info', write: (line) => (logs[i] as string[]).push(line) }) }),
      ),
    )
    one = started[0] as RunningServer
    two = started[1] as RunningServer
    writeToken = (await createToken(one.store, clock, { siteId: 1, scopes: 'read,write', name: 'Sam' })).token
    siteKey = (await one.store.sites.byId(1))?.publishable_key as string
    await until(() => one.app.chat.hub.fanout.status().receiving && two.app.chat.hub.fanout.status().receiving, 5000, 'both instances subscribed')
  })

  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()])
    await db?.drop()
    await redis.stop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  test('a widget socket on instance 1 receives the agent reply posted through instance 2', async () => {
    const chat = await openChat(one)
    const visitor = chat.socketOn(one)
    await visitor.hello()
    expect((await chat.visitorSays(one, 'I want to talk to a human')).body.data.status).toBe('waiting_human')
    const sent = performance.now()
    const reply = await call(two, 'POST', '/v1/messages', { session_id: chat.sid, text: 'Hi, Sam here, on the other instance.' })
    expect(reply.status).toBe(201)
    const pushed = await visitor.next((f) => f.type === 'message' && f.message.role === 'agent')
    expect(performance.now() - sent).toBeLessThan(1000)
    expect(pushed.message).toEqual(reply.body.data)
    await visitor.next((f) => f.type === 'status' && f.status === 'human')
    // Each event once, though both instances hold a subscription.
    await Bun.sleep(200)
    expect(visitor.frames.filter((f) => f.type === 'message' && f.message.id === reply.body.data.id).length).toBe(1)
    visitor.close()
  })

  test("an agent socket on instance 2 sees the visitor's message sent to instance 1, once", async () => {
    const agent = new Socket(`${wsOf(two)}/v1/agent/ws?token=${writeToken}`)
    await agent.hello()
    const chat = await openChat(one)
    expect((await agent.next((f) => f.type === 'session')).session.id).toBe(chat.sid)
    const said = await chat.visitorSays(one, 'Hello from the visitor, through instance 1')
    expect(said.status).toBe(201)
    const got = await agent.next((f) => f.type === 'message' && f.message.id === said.body.data.message.id)
    expect(got.message.text).toBe('Hello from the visitor, through instance 1')
    await agent.next((f) => f.type === 'message' && f.message.id === said.body.data.reply.id)
    await Bun.sleep(200)
    expect(agent.frames.filter((f) => f.type === 'message' && f.message.id === said.body.data.message.id).length).toBe(1)
    agent.close()
  })

  test('a dashboard session signed out on instance 1 has its live socket on instance 2 closed', async () => {
    await createAdmin(one.store, clock, { email: 'cluster@example.com', password: 'a long password' })
    // Signed in through instance 1; the cookie is good on instance 2 (the signing secret is in the database).
    const form = await fetch(`${one.url}/dashboard/sign-in`)
    const pre = form.headers.getSetCookie().map((c) => c.split(';')[0])
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? ''
    const signedIn = await fetch(`${one.url}/dashboard/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: pre.join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, email: 'cluster@example.com', password: 'a long password' }).toString(),
    })
    expect(signedIn.status).toBe(303)
    const cookie = (signedIn.headers.getSetCookie().find((c) => c.startsWith('mlc_session=')) ?? '').split(';')[0] as string
    const live = new Socket(`${wsOf(two)}/dashboard/ws?site=1`, { cookie, origin: two.url })
    expect(await live.hello()).toEqual({ type: 'hello', site_id: 1 })
    // The inbox on instance 2 hears a chat opened through instance 1.
    const chat = await openChat(one)
    expect((await live.next((f) => f.type === 'session')).session.id).toBe(chat.sid)

    const page = await fetch(`${one.url}/dashboard`, { headers: { cookie } })
    const pageCsrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? ''
    const out = await fetch(`${one.url}/dashboard/sign-out`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, origin: one.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: pageCsrf }).toString(),
    })
    expect(out.status).toBe(303)
    expect((await live.ended(2000)).code).toBe(4001)
  })

  test('a token revoked on instance 1 is refused on instance 2 within a second, and its socket there is closed', async () => {
    const { token, id } = await createToken(one.store, clock, { siteId: 1, scopes: 'read', name: 'to revoke' })
    // Created on instance 1 (as the CLI does, through the database): works on both.
    expect((await call(one, 'GET', '/v1/whoami', undefined, token)).status).toBe(200)
    expect((await call(two, 'GET', '/v1/whoami', undefined, token)).status).toBe(200)
    const agent = new Socket(`${wsOf(two)}/v1/agent/ws?token=${token}`)
    await agent.hello()
    // Revoked through instance 1's store, as `mlc token revoke` (or the dashboard there) does.
    const revoked = performance.now()
    await revokeToken(one.store, clock, id)
    expect((await call(one, 'GET', '/v1/whoami', undefined, token)).status).toBe(401)
    const refusedAfter = await until(async () => (await call(two, 'GET', '/v1/whoami', undefined, token)).status === 401, 3000, 'refused on instance 2')
    expect(performance.now() - revoked).toBeLessThan(1000 + 100)
    expect(refusedAfter).toBeLessThan(1000)
    expect((await agent.ended(3000)).code).toBe(1008)
  })

  test("a site's plan changed on instance 1 is seen by instance 2 within a second", async () => {
    const planOn = async (s: RunningServer) => (await call(s, 'GET', '/v1/whoami')).body.data.plan
    expect(await planOn(two)).toBe('free')
    const changed = performance.now()
    await updateSite(one.store, 1, { plan: 'growth' })
    await until(async () => (await planOn(two)) === 'growth', 3000, 'plan seen on instance 2')
    expect(performance.now() - changed).toBeLessThan(1000)
    await updateSite(one.store, 1, { plan: 'free' })
  })

  test('Redis restarted: each instance keeps serving its own sockets; the others resync, and delivery resumes within seconds', async () => {
    const chat = await openChat(one)
    const visitor = chat.socketOn(one)
    await visitor.hello()
    const agentHere = new Socket(`${wsOf(one)}/v1/agent/ws?token=${writeToken}`)
    const agentThere = new Socket(`${wsOf(two)}/v1/agent/ws?token=${writeToken}`)
    await Promise.all([agentHere.hello(), agentThere.hello()])

    await redis.stop()
    await until(() => !one.app.chat.hub.fanout.status().sending || !one.app.chat.hub.fanout.status().receiving, 3000, 'instance 1 sees Redis gone')
    // A message while Redis is down: the agent on the same instance gets it, the other cannot.
    const during = await chat.visitorSays(one, 'Said while Redis was down')
    expect(during.status).toBe(201)
    await agentHere.next((f) => f.type === 'message' && f.message.id === during.body.data.message.id)
    await Bun.sleep(300)
    expect(agentThere.frames.some((f) => f.type === 'message' && f.message.id === during.body.data.message.id)).toBe(false)

    await redis.start()
    const restarted = performance.now()
    // The socket that missed the message is told to re-read, and finds it in the database.
    await agentThere.next((f) => f.type === 'resync', 8000)
    const resyncMs = performance.now() - restarted
    const page = await call(two, 'GET', `/v1/messages?session_id=${chat.sid}`)
    expect(page.status).toBe(200)
    expect(JSON.stringify(page.body.data)).toContain('Said while Redis was down')
    // The visitor's socket on instance 1 is told too (instance 1's subscription was down as well).
    await visitor.next((f) => f.type === 'resync', 8000)

    // Then events cross again: an agent reply through instance 2 reaches the visitor on instance 1.
    await until(
      async () => {
        const r = await call(two, 'POST', '/v1/messages', { session_id: chat.sid, text: `after the restart ${performance.now()}` })
        return (await visitor.next((f) => f.type === 'message' && f.message.id === r.body.data.id, 500).catch(() => null)) !== null
      },
      8000,
      'delivery across instances after the restart',
    )
    const resumedMs = performance.now() - restarted
    expect(resyncMs).toBeLessThan(5000)
    expect(resumedMs).toBeLessThan(5000)
    for (const s of [visitor, agentHere, agentThere]) s.close()
  }, 40_000)

  test('the widget in Chromium shows the agent reply it missed during a Redis restart, before its own newer message', async () => {
    await until(() => one.app.chat.hub.fanout.status().receiving && two.app.chat.hub.fanout.status().receiving, 8000, 'both instances subscribed')
    const pages = startPageServer()
    const browser = await launchChromium()
    try {
      const page = await (await browser.newContext()).newPage()
      page.setDefaultTimeout(10_000)
      const W = '#mylivechat-widget'
      await page.goto(pages.add('/shop', snippetPage(one.url, { before: `mylivechat('boot', { siteKey: '${siteKey}', apiUrl: '${one.url}' })` })))
      // The widget opens its session when the panel opens or on the first message: listen first.
      const opened = page.waitForResponse((r) => r.url().endsWith('/v1/widget/sessions') && r.request().method() === 'POST')
      await page.locator(`${W} .launcher`).click()
      await page.locator(`${W} textarea[name=text]`).fill('I want to talk to a human')
      await page.keyboard.press('Enter')
      const sid: string = (await (await opened).json()).data.session_id
      const agentTexts = () => page.locator(`${W} .msg.agent`).allInnerTexts()
      const texts = () => page.locator(`${W} .msg`).allInnerTexts()
      // Live across instances first: a reply through instance 2 shows on the page served by 1.
      expect((await call(two, 'POST', '/v1/messages', { session_id: sid, text: 'Live reply from instance 2' })).status).toBe(201)
      await until(async () => (await agentTexts()).some((t) => t.includes('Live reply from instance 2')), 3000, 'live reply shown')

      await redis.stop()
      await until(() => !two.app.chat.hub.fanout.status().sending, 3000, 'instance 2 sees Redis gone')
      expect((await call(two, 'POST', '/v1/messages', { session_id: sid, text: 'Missed reply: your refund is on its way' })).status).toBe(201)
      // The visitor writes on: their own, newer message shows at once (instance 1 answers it).
      await page.locator(`${W} textarea[name=text]`).fill('Anyone there?')
      await page.keyboard.press('Enter')
      await until(async () => (await texts()).some((t) => t.includes('Anyone there?')), 3000, 'own message shown')
      await Bun.sleep(300)
      expect((await agentTexts()).some((t) => t.includes('Missed reply'))).toBe(false)

      await redis.start()
      const took = await until(async () => (await agentTexts()).some((t) => t.includes('Missed reply')), 8000, 'missed reply shown after the restart')
      expect(took).toBeLessThan(5000)
      // Shown once, even though the page re-read the whole chat.
      expect((await texts()).filter((t) => t.includes('Live reply from instance 2')).length).toBe(1)
    } finally {
      await browser.close()
      pages.stop()
    }
  }, 60_000)

  test('the start logs say the fan-out subscribed, and give no one-instance warning', () => {
    for (const lines of logs) {
      const text = lines.join('\n')
      expect(text).toContain('live chat fan-out subscribed to redis')
      expect(text).not.toContain('a second instance on this database needs MLC_REDIS_URL')
    }
  })
})

describe.skipIf(!TEST_DATABASE_URL)('one instance on PostgreSQL without Redis', () => {
  test('the server logs that a second instance would need MLC_REDIS_URL', async () => {
    const db = await freshPostgresDatabase({ migrate: false })
    const dir = tempDir()
    const lines: string[] = []
    const server = await startServer(loadConfig({}, { MLC_DATA_DIR: dir, MLC_PORT: '0', MLC_HOST: '127.0.0.1', MLC_DATABASE_URL: db.url }), {
      logger: createLogger({ level: 'info', write: (line) => lines.push(line) }),
    })
    try {
      const warning = lines.map((l) => JSON.parse(l)).find((l) => String(l.msg).includes('needs MLC_REDIS_URL'))
      expect(warning).toMatchObject({ level: 'warn', engine: 'postgres' })
      expect(warning.msg).toContain('rate limits and live chat are kept in this instance')
      expect(server.app.chat.hub.fanout.shared).toBe(false)
    } finally {
      await server.stop()
      await db.drop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
