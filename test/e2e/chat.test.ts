/**
 * The chat engine on a real server (Bun.serve with the WebSocket channels and the webhook worker
 * thread): a scripted chat watched over real WebSockets by the visitor and an agent, ending in two
 * signed webhook deliveries to a loopback receiver; the channels' authorization; and the
 * inactivity sweep timer driven by a ManualClock.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { rmSync } from 'node:fs'
import { Webhook } from 'standardwebhooks'
import { ManualClock } from '../../src/clock'
import { loadConfig } from '../../src/config'
import { silentLogger } from '../../src/log'
import { createToken, revokeToken } from '../../src/modules/tokens/service'
import { type RunningServer, startServer } from '../../src/server'
import { KB } from '../chat/harness'
import { tempDir } from '../helpers'
import { FrameSocket as Socket } from './frame-socket'

interface Received {
  headers: Headers
  body: string
}

describe('a chat on a real server', () => {
  const dir = tempDir()
  const received: Received[] = []
  let receiver: ReturnType<typeof Bun.serve>
  let server: RunningServer
  let base: string
  let writeToken: string
  let readToken: string
  let siteKey: string
  let secret: string

  const api = async (method: string, path: string, body?: unknown, token: string | null = writeToken) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as any }
  }

  beforeAll(async () => {
    receiver = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch(req) {
        received.push({ headers: req.headers, body: await req.text() })
        return new Response('ok')
      },
    })
    const config = loadConfig({}, { MLC_DATA_DIR: dir, MLC_PORT: '0', MLC_HOST: '127.0.0.1', MLC_WEBHOOK_ALLOW_PRIVATE: '1' })
    server = await startServer(config, { logger: silentLogger })
    base = server.url
    writeToken = (await createToken(server.store, { now: () => Date.now() }, { siteId: 1, scopes: 'read,write', name: 'Sam' })).token
    readToken = (await createToken(server.store, { now: () => Date.now() }, { siteId: 1, scopes: 'read', name: 'inbox' })).token
    siteKey = (await server.store.sites.byId(1))?.publishable_key as string
    for (const a of KB) expect((await api('POST', '/v1/kb_articles', a)).status).toBe(201)
    const sub = await api('POST', '/v1/webhook_subscriptions', { url: `http://127.0.0.1:${receiver.port}/hooks`, events: ['handoff', 'feedback'] })
    expect(sub.status).toBe(201)
    secret = sub.body.data.secret
  })

  afterAll(async () => {
    await server.stop()
    receiver.stop(true)
    rmSync(dir, { recursive: true, force: true })
  })

  test('scripted chat: WebSocket pushes to visitor and agent, two signed webhooks arrive', async () => {
    const agent = new Socket(`${base.replace('http', 'ws')}/v1/agent/ws?token=${readToken}`)
    await agent.opened()
    expect(await agent.next((f) => f.type === 'hello')).toEqual({ type: 'hello', site_id: 1 })

    const anon = `e2e-${Date.now()}`
    const visitorCall = (method: string, path: string, body: Record<string, unknown> = {}) =>
      api(method, `/v1/widget${path}`, { site_key: siteKey, anon_id: anon, ...body }, null)
    const opened = await visitorCall('POST', '/sessions')
    expect(opened.status).toBe(201)
    const sid: string = opened.body.data.session_id
    expect(opened.body.data.ws_url).toStartWith(`${base.replace('http', 'ws')}/v1/widget/ws?session_id=${sid}`)
    expect((await agent.next((f) => f.type === 'session')).session).toMatchObject({ id: sid, status: 'bot' })

    const visitor = new Socket(opened.body.data.ws_url)
    await visitor.opened()
    expect(await visitor.next((f) => f.type === 'hello')).toEqual({ type: 'hello', session_id: sid, status: 'bot', handoff_reason: null })
    visitor.ws.send('ping')
    await visitor.next((f) => f.type === 'pong')

    const q = await visitorCall('POST', `/sessions/${sid}/messages`, { text: 'How do I reset my password?' })
    expect(q.body.data.reply.role).toBe('ai')
    await visitor.next((f) => f.type === 'message' && f.message.id === q.body.data.reply.id)
    await agent.next((f) => f.type === 'message' && f.message.id === q.body.data.message.id)

    const h = await visitorCall('POST', `/sessions/${sid}/messages`, { text: 'I want to talk to a human' })
    expect(h.body.data.status).toBe('waiting_human')
    expect(await visitor.next((f) => f.type === 'status')).toEqual({
      type: 'status',
      session_id: sid,
      status: 'waiting_human',
      handoff_reason: 'visitor_requested',
      closed_by: null,
    })
    expect((await agent.next((f) => f.type === 'handoff')).handoff).toMatchObject({ session_id: sid, handoff_reason: 'visitor_requested' })

    const sent = performance.now()
    const reply = await api('POST', '/v1/messages', { session_id: sid, text: 'Hi, Sam here. I will send you a new link.' })
    expect(reply.status).toBe(201)
    const pushed = await visitor.next((f) => f.type === 'message' && f.message.role === 'agent')
    const latencyMs = performance.now() - sent
    expect(pushed.message).toEqual(reply.body.data)
    expect(pushed.message.author).toBe('Sam')
    expect(latencyMs).toBeLessThan(1000)
    await visitor.next((f) => f.type === 'status' && f.status === 'human')

    expect((await api('POST', `/v1/sessions/${sid}?action=close`)).status).toBe(200)
    await visitor.next((f) => f.type === 'status' && f.status === 'closed' && f.closed_by === 'agent')
    const fb = await visitorCall('POST', `/sessions/${sid}/feedback`, { rating: 5, comment: 'Great help' })
    expect(fb.status).toBe(201)
    expect((await agent.next((f) => f.type === 'feedback')).feedback).toMatchObject({ session_id: sid, rating: 5 })

    // The webhook worker delivers both events, signed both ways.
    const deadline = Date.now() + 10_000
    while (received.length < 2 && Date.now() < deadline) await Bun.sleep(25)
    expect(received.map((r) => r.headers.get('x-mlc-event')).sort()).toEqual(['feedback', 'handoff'])
    const wh = new Webhook(secret.slice('whsec_'.length))
    for (const r of received) {
      const expected = `sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`
      expect(r.headers.get('x-mlc-signature')).toBe(expected)
      const verified = wh.verify(r.body, {
        'webhook-id': r.headers.get('webhook-id') as string,
        'webhook-timestamp': r.headers.get('webhook-timestamp') as string,
        'webhook-signature': r.headers.get('webhook-signature') as string,
      }) as Record<string, unknown>
      expect(verified.session_id).toBe(sid)
    }
    const handoff = JSON.parse((received.find((r) => r.headers.get('x-mlc-event') === 'handoff') as Received).body)
    expect(handoff).toMatchObject({
      event: 'handoff',
      session_id: sid,
      handoff_reason: 'visitor_requested',
      visitor: { key: `anon:${anon}`, name: null, email: null },
    })
    expect(handoff.summary).toContain('reset my password')
    expect(Date.parse(handoff.created_utc)).toBeGreaterThan(0)
    const feedback = JSON.parse((received.find((r) => r.headers.get('x-mlc-event') === 'feedback') as Received).body)
    expect(feedback).toMatchObject({ event: 'feedback', session_id: sid, rating: 5, comment: 'Great help', visitor: { name: null, email: null } })

    // The rows behind every resource.
    const tr = await api('GET', `/v1/transcripts?sessionId=${sid}`, undefined, readToken)
    expect(tr.body.data.messages.map((m: { role: string }) => m.role)).toEqual(['visitor', 'ai', 'visitor', 'system', 'agent', 'system'])
    const usage = await api('GET', '/v1/usage', undefined, readToken)
    expect(usage.body.data.ai_replies).toBe(1)
    expect(usage.body.data.bot_tokens).toBe(q.body.data.reply.tokens)
    visitor.close()
    agent.close()
  })

  test('the channels refuse wrong credentials with the error envelope', async () => {
    const opened = await api('POST', '/v1/widget/sessions', { site_key: siteKey, anon_id: 'owner-1' }, null)
    const sid = opened.body.data.session_id
    const ws = base.replace('http', 'ws')
    const cases: [string, number, string][] = [
      [`/v1/widget/ws?session_id=${sid}&site_key=${siteKey}&anon_id=someone-else`, 404, 'not_found'],
      [`/v1/widget/ws?session_id=${sid}&anon_id=owner-1`, 401, 'unauthorized'],
      [`/v1/widget/ws?session_id=cs_missing&site_key=${siteKey}&anon_id=owner-1`, 404, 'not_found'],
      ['/v1/agent/ws', 401, 'unauthorized'],
      ['/v1/agent/ws?token=mlc_not_a_token', 401, 'unauthorized'],
      [`/v1/agent/ws?token=${siteKey}`, 403, 'forbidden'],
    ]
    for (const [path, status, code] of cases) {
      const res = await fetch(`${base}${path}`, {
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      })
      expect(res.status).toBe(status)
      const body = (await res.json()) as any
      expect(body.error.code).toBe(code)
      expect(res.headers.get('x-mlc-request-id')).toBe(body.error.request_id)
      const sock = new Socket(`${ws}${path}`)
      await sock.ended()
      expect(sock.frames).toEqual([])
    }
    // A plain GET with the right credentials is told to upgrade.
    const plain = await fetch(`${base}/v1/widget/ws?session_id=${sid}&site_key=${siteKey}&anon_id=owner-1`)
    expect(plain.status).toBe(426)
    expect(((await plain.json()) as any).error.code).toBe('upgrade_required')
  })

  test("an agent's socket is closed within a second or two of its token's revocation", async () => {
    const { id, token } = await createToken(server.store, { now: () => Date.now() }, { siteId: 1, scopes: 'read', name: 'temp' })
    const sock = new Socket(`${base.replace('http', 'ws')}/v1/agent/ws?token=${token}`)
    await sock.opened()
    await sock.next((f) => f.type === 'hello')
    await revokeToken(server.store, { now: () => Date.now() }, id, 1)
    expect((await sock.ended(4000)).code).toBe(1008)
  })

  test("a visitor's socket hears only their own session", async () => {
    const a = await api('POST', '/v1/widget/sessions', { site_key: siteKey, anon_id: 'iso-a' }, null)
    const b = await api('POST', '/v1/widget/sessions', { site_key: siteKey, anon_id: 'iso-b' }, null)
    const sockA = new Socket(a.body.data.ws_url)
    await sockA.opened()
    await api('POST', '/v1/messages', { session_id: b.body.data.session_id, text: 'for B only' })
    await api('POST', '/v1/messages', { session_id: a.body.data.session_id, text: 'for A' })
    await sockA.next((f) => f.type === 'message' && f.message.text === 'for A')
    expect(sockA.frames.some((f) => f.message?.text === 'for B only')).toBe(false)
    sockA.close()
  })
})

describe('the inactivity sweep timer', () => {
  test('closes an idle chat once the ManualClock passes the timeout, and the visitor hears it', async () => {
    const dir = tempDir()
    const clock = new ManualClock()
    const config = loadConfig(
      {},
      { MLC_DATA_DIR: dir, MLC_PORT: '0', MLC_HOST: '127.0.0.1', MLC_CHAT_INACTIVITY_TIMEOUT: '600', MLC_CHAT_SWEEP_INTERVAL_MS: '50' },
    )
    const server = await startServer(config, { clock, logger: silentLogger })
    try {
      const siteKey = (await server.store.sites.byId(1))?.publishable_key
      const res = await fetch(`${server.url}/v1/widget/sessions`, { method: 'POST', body: JSON.stringify({ site_key: siteKey, anon_id: 'idle-1' }) })
      const { data } = (await res.json()) as any
      const sock = new Socket(data.ws_url)
      await sock.opened()
      await Bun.sleep(150)
      expect(sock.frames.some((f) => f.type === 'status')).toBe(false)
      clock.advance(600_001)
      expect(await sock.next((f) => f.type === 'status', 2000)).toMatchObject({ status: 'closed', closed_by: 'inactivity' })
      expect((await sock.next((f) => f.type === 'message')).message.text).toBe('This chat was closed after 10 minutes without messages.')
      sock.close()
    } finally {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
