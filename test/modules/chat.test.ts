/**
 * The chat engine through the API: the widget's endpoints (publishable key + visitor), the bot's
 * handoff rules, the agent resources (sessions, messages, transcripts, handoffs, feedback, usage),
 * the webhook outbox, the inactivity sweep, and every 4xx of the issue.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { closeInactiveSessions } from '../../src/chat/sessions'
import type { EventRow } from '../../src/db/rows'
import { createSite } from '../../src/modules/sites/service'
import { createToken } from '../../src/modules/tokens/service'
import { KB, seedKb, siteKeyOf, Visitor } from '../chat/harness'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
let pk: string
let pk2: string
beforeAll(async () => {
  t = await createTestApp({ MLC_WEBHOOK_ALLOW_PRIVATE: '1' })
  pk = await siteKeyOf(t, t.site1)
  pk2 = await siteKeyOf(t, t.site2)
  await seedKb(t)
  const sub = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'http://127.0.0.1:9/hooks', events: ['handoff', 'feedback'] } })
  expect(sub.status).toBe(201)
})
afterAll(() => t.cleanup())

let anonSeq = 0
/** A new anonymous visitor of site 1 (own bucket, own IP unless given). */
function visitor(ip?: string): Visitor {
  anonSeq++
  return new Visitor(t, pk, { anon_id: `anon-${anonSeq}-${Math.random().toString(36).slice(2)}` }, ip ?? `10.0.${anonSeq}.1`)
}

/**
 * Site 1's webhook events of one type, oldest first, as their deliveries send them. Read through
 * the outbox: the subscription made in beforeAll takes every handoff and feedback event.
 */
async function eventsOf(type: string): Promise<Record<string, any>[]> {
  const events = new Map<string, EventRow>()
  const limit = 100
  let beforeSeq: number | null = null
  for (;;) {
    const page = await t.store.webhooks.listDeliveries(t.site1, { subscriptionId: null, status: null, event: type, beforeSeq, limit })
    for (const d of page) {
      const event = events.has(d.event_id) ? null : await t.store.webhooks.getEvent(d.event_id)
      if (event) events.set(event.id, event)
    }
    const last = page.at(-1)
    if (page.length < limit || !last) break
    beforeSeq = last.seq
  }
  return [...events.values()].sort((a, b) => a.created_ms - b.created_ms || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((e) => JSON.parse(e.body))
}

describe('a scripted chat', () => {
  test('open, bot reply, handoff, agent reply, close, feedback: every resource shows it', async () => {
    const v = visitor()
    const opened = await v.call('POST', '/sessions')
    expect(opened.status).toBe(201)
    const sid = opened.body.data.session_id
    expect(sid).toMatch(/^cs_[A-Za-z0-9_-]{20,}$/)
    expect(opened.body.data).toMatchObject({ status: 'bot', starters: [] })
    expect(opened.body.data.ws_url).toBe(`ws://localhost/v1/widget/ws?session_id=${sid}&site_key=${pk}&anon_id=${v.cred.anon_id}`)

    const q = await v.say(sid, 'How do I reset my password?')
    expect(q.status).toBe(201)
    expect(q.body.data.message).toMatchObject({ role: 'visitor', text: 'How do I reset my password?' })
    expect(q.body.data.reply.role).toBe('ai')
    expect(q.body.data.reply.text).toStartWith('To reset your password, open Settings')
    expect(q.body.data.reply.tokens).toBeGreaterThan(10)
    expect(q.body.data.status).toBe('bot')

    const off = await v.say(sid, 'Can I talk to a human please?')
    expect(off.body.data.status).toBe('waiting_human')
    expect(off.body.data.reply).toMatchObject({ role: 'system' })

    const hand = await t.call('GET', '/v1/handoffs?limit=1', { token: t.readToken })
    expect(hand.body.data[0]).toMatchObject({
      session_id: sid,
      handoff_reason: 'visitor_requested',
      visitor: { key: `anon:${v.cred.anon_id}`, name: null, email: null },
    })
    expect(hand.body.data[0].summary).toContain('reset my password')

    const agent = await t.call('POST', '/v1/messages', { body: { session_id: sid, text: 'Hi, Sam here. Let me help.' } })
    expect(agent.status).toBe(201)
    expect(agent.body.data).toMatchObject({ role: 'agent', author: 'writer', session_id: sid })

    // Once a human has it, the visitor's messages wait for them: no bot reply.
    const later = await v.say(sid, 'Thanks Sam, the link never arrives.')
    expect(later.body.data).toMatchObject({ reply: null, status: 'human' })

    const closed = await t.call('POST', `/v1/api.ashx?resource=sessions&id=${sid}&action=close`)
    expect(closed.status).toBe(200)
    expect(closed.body.data).toMatchObject({ id: sid, status: 'closed', closed_by: 'agent', handoff_reason: 'visitor_requested', bot_replies: 1 })

    const fb = await v.call('POST', `/sessions/${sid}/feedback`, { rating: 4, comment: ' Quick and kind. ' })
    expect(fb.status).toBe(201)
    expect(fb.body.data).toMatchObject({ session_id: sid, rating: 4, comment: 'Quick and kind.' })

    const tr = await t.call('GET', `/v1/api.ashx?resource=transcripts&sessionId=${sid}`, { token: t.readToken })
    expect(tr.body).toMatchObject({ ok: true })
    expect(tr.body.data).toMatchObject({ session_id: sid, status: 'closed', handoff_reason: 'visitor_requested', rating: 4 })
    expect(tr.body.data.messages.map((m: { role: string }) => m.role)).toEqual(['visitor', 'ai', 'visitor', 'system', 'agent', 'visitor', 'system'])
    expect(tr.body.data.ended_utc).toBe(closed.body.data.ended_utc)

    const feedback = await t.call('GET', '/v1/feedback?limit=1', { token: t.readToken })
    expect(feedback.body.data[0]).toMatchObject({ session_id: sid, rating: 4, comment: 'Quick and kind.', visitor: { key: `anon:${v.cred.anon_id}` } })

    const sessions = await t.call('GET', '/v1/sessions?status=closed', { token: t.readToken })
    expect(sessions.body.data.map((s: { id: string }) => s.id)).toContain(sid)

    const handoffEvent = (await eventsOf('handoff')).find((e) => e.session_id === sid)
    expect(handoffEvent).toMatchObject({
      event: 'handoff',
      handoff_reason: 'visitor_requested',
      visitor: { key: `anon:${v.cred.anon_id}`, name: null, email: null },
    })
    expect(Object.keys(handoffEvent as object).sort()).toEqual(['created_utc', 'event', 'handoff_reason', 'id', 'session_id', 'summary', 'visitor'])
    const feedbackEvent = (await eventsOf('feedback')).find((e) => e.session_id === sid)
    expect(feedbackEvent).toMatchObject({ event: 'feedback', rating: 4, comment: 'Quick and kind.', created_utc: fb.body.data.created_utc })
    const deliveries = await t.call('GET', '/v1/webhook_deliveries', { token: t.readToken })
    const mine = deliveries.body.data.filter((d: { event_id: string }) => [handoffEvent?.id, feedbackEvent?.id].includes(d.event_id))
    expect(mine.map((d: { event: string }) => d.event).sort()).toEqual(['feedback', 'handoff'])
  })

  test('an identified visitor shows with name and email everywhere', async () => {
    await t.call('POST', '/v1/visitors', { body: { key: 'u_42', name: 'Jay', email: 'jay@example.com' } })
    const v = new Visitor(t, pk, { visitor_key: 'u_42' }, '10.9.9.9')
    const sid = await v.open()
    await v.call('POST', `/sessions/${sid}/handoff`)
    const s = await t.call('GET', `/v1/sessions/${sid}`)
    expect(s.body.data.visitor).toEqual({ key: 'u_42', name: 'Jay', email: 'jay@example.com' })
    const ev = (await eventsOf('handoff')).find((e) => e.session_id === sid)
    expect(ev?.visitor).toEqual({ key: 'u_42', name: 'Jay', email: 'jay@example.com' })
  })

  test("erasing a visitor blanks their chats' words and detaches them; usage and ratings stay", async () => {
    await t.call('POST', '/v1/visitors', { body: { key: 'u_erase', name: 'Erin', email: 'erin@example.com' } })
    const v = new Visitor(t, pk, { visitor_key: 'u_erase' }, '10.9.9.10')
    const sid = await v.open()
    await v.say(sid, 'My card number is 4242 and I live at 1 Main St')
    await v.call('POST', `/sessions/${sid}/handoff`)
    const usageBefore = (await t.call('GET', '/v1/usage')).body.data
    expect((await t.call('DELETE', '/v1/visitors?key=u_erase')).status).toBe(200)
    const tr = await t.call('GET', `/v1/transcripts?sessionId=${sid}`)
    expect(tr.body).toMatchObject({ ok: true })
    const everything = JSON.stringify(tr.body.data)
    expect(everything).not.toContain('4242')
    expect(everything).not.toContain('u_erase')
    expect(everything).not.toContain('erin@example.com')
    const handoffs = JSON.stringify((await t.call('GET', '/v1/handoffs')).body.data)
    expect(handoffs).not.toContain('u_erase')
    expect(handoffs).not.toContain('4242')
    expect((await t.call('GET', '/v1/usage')).body.data).toEqual(usageBefore)
  })

  test('the enabled conversation starters come with a new session, in order', async () => {
    await t.call('POST', '/v1/conversation_starters', { body: { prompt: 'Where is my invoice?', position: 2 } })
    await t.call('POST', '/v1/conversation_starters', { body: { prompt: 'Reset my password', position: 1 } })
    const r = await visitor().call('POST', '/sessions')
    expect(r.body.data.starters.map((s: { prompt: string }) => s.prompt)).toEqual(['Reset my password', 'Where is my invoice?'])
  })
})

describe('the bot hands off', () => {
  test('low_confidence: the best passage covers too little of the question', async () => {
    const v = visitor()
    const sid = await v.open()
    const r = await v.say(sid, 'Do you offer refunds for enterprise plans?')
    expect(r.body.data.status).toBe('waiting_human')
    expect(r.body.data.reply.text).toContain('fetching a human')
    const s = await t.call('GET', `/v1/sessions/${sid}`)
    expect(s.body.data.handoff_reason).toBe('low_confidence')
  })

  test('a greeting gets a question back, not a handoff', async () => {
    const v = visitor()
    const sid = await v.open()
    const r = await v.say(sid, 'Hello!')
    expect(r.body.data).toMatchObject({ status: 'bot', reply: { role: 'ai' } })
  })

  test('max_turns: after max_bot_replies answers the next message hands off', async () => {
    const other = await createSite(t.store, t.clock, { name: 'Turns' })
    const token = (await createToken(t.store, t.clock, { siteId: other.id, scopes: 'read,write', name: 'w' })).token
    await t.call('POST', '/v1/kb_articles', { token, body: KB[1] })
    const set = await t.call('PATCH', '/v1/chat_settings', { token, body: { max_bot_replies: 2 } })
    expect(set.body.data).toEqual({ max_bot_replies: 2, min_confidence: 0.5 })
    const v = new Visitor(t, other.publishable_key, { anon_id: 'turns-1' }, '10.7.7.7')
    const sid = await v.open()
    expect((await v.say(sid, 'Where do I download invoices?')).body.data.reply.role).toBe('ai')
    expect((await v.say(sid, 'Can I get invoices as CSV?')).body.data.reply.role).toBe('ai')
    const third = await v.say(sid, 'And invoices from last year?')
    expect(third.body.data.status).toBe('waiting_human')
    const h = await t.call('GET', '/v1/handoffs', { token })
    expect(h.body.data[0]).toMatchObject({ session_id: sid, handoff_reason: 'max_turns' })
    expect(h.body.data[0].summary).toContain('(2 bot replies before the handoff)')
  })

  test('visitor_requested through the endpoint keeps the note; asking again changes nothing', async () => {
    const v = visitor()
    const sid = await v.open()
    const first = await v.call('POST', `/sessions/${sid}/handoff`, { reason: 'Billing question about my contract' })
    expect(first.status).toBe(200)
    expect(first.body.data).toMatchObject({ session_id: sid, status: 'waiting_human', handoff_reason: 'visitor_requested', rated: false })
    const again = await v.call('POST', `/sessions/${sid}/handoff`)
    expect(again.body.data.status).toBe('waiting_human')
    const list = await t.call('GET', '/v1/handoffs?limit=100')
    expect(list.body.data.filter((h: { session_id: string }) => h.session_id === sid)).toHaveLength(1)
    expect(list.body.data.find((h: { session_id: string }) => h.session_id === sid).summary).toContain('Billing question about my contract')
  })

  test('an agent may take a chat from the bot directly: it becomes human with no handoff', async () => {
    const v = visitor()
    const sid = await v.open()
    await t.call('POST', '/v1/messages', { body: { session_id: sid, text: 'Hi, can I help?' } })
    const s = await t.call('GET', `/v1/sessions/${sid}`)
    expect(s.body.data).toMatchObject({ status: 'human', handoff_reason: null })
    expect((await v.say(sid, 'How do I reset my password?')).body.data.reply).toBeNull()
  })
})

describe('reading', () => {
  test('the widget reads its messages after an id; the agent reads them with GET messages', async () => {
    const v = visitor()
    const sid = await v.open()
    const q = await v.say(sid, 'How do I reset my password?')
    const all = await v.call('GET', `/sessions/${sid}/messages`)
    expect(all.body.data.messages.map((m: { id: number }) => m.id)).toEqual([q.body.data.message.id, q.body.data.reply.id])
    const after = await v.call('GET', `/sessions/${sid}/messages`, { after: String(q.body.data.message.id) })
    expect(after.body.data).toMatchObject({ session_id: sid, status: 'bot', has_more: false })
    expect(after.body.data.messages).toHaveLength(1)
    const agent = await t.call('GET', `/v1/messages?session_id=${sid}&limit=1`, { token: t.readToken })
    expect(agent.body).toMatchObject({ ok: true, has_more: true })
    expect(agent.body.data[0].id).toBe(q.body.data.message.id)
    const session = await v.call('GET', `/sessions/${sid}`)
    expect(session.body.data).toMatchObject({ session_id: sid, status: 'bot', rated: false, ended_utc: null })
  })

  test('sessions, handoffs and feedback page newest first with cursors', async () => {
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const v = visitor()
      const sid = await v.open()
      ids.push(sid)
      await v.call('POST', `/sessions/${sid}/handoff`)
      await v.call('POST', `/sessions/${sid}/close`)
      await v.call('POST', `/sessions/${sid}/feedback`, { rating: i + 1 })
      t.clock.advance(1000)
    }
    for (const resource of ['handoffs', 'feedback', 'sessions']) {
      const seen: string[] = []
      let cursor: string | null = null
      do {
        const r: { body: any } = await t.call('GET', `/v1/${resource}?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: t.readToken })
        seen.push(...r.body.data.map((x: { session_id?: string; id: string }) => x.session_id ?? x.id))
        cursor = r.body.next_cursor
        if (cursor) expect(r.body.has_more).toBe(true)
      } while (cursor)
      expect(seen.slice(0, 3)).toEqual([...ids].reverse())
      expect(new Set(seen).size).toBe(seen.length)
    }
    const low = await t.call('GET', '/v1/feedback?rating=1', { token: t.readToken })
    expect(low.body.data.map((f: { session_id: string }) => f.session_id)).toContain(ids[0])
    expect(low.body.data.every((f: { rating: number }) => f.rating === 1)).toBe(true)
    const since = new Date(t.clock.now() - 1500).toISOString()
    const recent = await t.call('GET', `/v1/handoffs?since=${since}`, { token: t.readToken })
    expect(recent.body.data.map((h: { session_id: string }) => h.session_id)).toEqual([ids[2]])
  })

  test('/v1/transcripts/{id} and session_id= also work', async () => {
    const sid = await visitor().open()
    expect((await t.call('GET', `/v1/transcripts/${sid}`)).body.data.session_id).toBe(sid)
    expect((await t.call('GET', `/v1/transcripts?session_id=${sid}`)).body.data.messages).toEqual([])
  })
})

describe('usage', () => {
  test('counts AI replies and bot tokens of the current cycle only', async () => {
    const fresh = await createSite(t.store, t.clock, { name: 'Usage' })
    const token = (await createToken(t.store, t.clock, { siteId: fresh.id, scopes: 'read,write', name: 'u' })).token
    await t.call('POST', '/v1/kb_articles', { token, body: KB[0] })
    const v = new Visitor(t, fresh.publishable_key, { anon_id: 'usage-1' }, '10.8.8.8')
    const sid = await v.open()
    const a = await v.say(sid, 'How do I reset my password?')
    const b = await v.say(sid, 'What is the password length?')
    const u = await t.call('GET', '/v1/usage', { token })
    expect(u.body.data).toMatchObject({
      cycle_start_utc: new Date(fresh.created_ms).toISOString(),
      ai_replies: 2,
      bot_tokens: a.body.data.reply.tokens + b.body.data.reply.tokens,
      provider: 'kb',
      tokenizer: 'mlc-approx-1',
    })
    expect(Date.parse(u.body.data.cycle_end_utc)).toBeGreaterThan(Date.parse(u.body.data.cycle_start_utc) + 27 * 86_400_000)
    t.clock.set(Date.parse(u.body.data.cycle_end_utc))
    const next = await t.call('GET', '/v1/usage', { token })
    expect(next.body.data).toMatchObject({ cycle_start_utc: u.body.data.cycle_end_utc, ai_replies: 0, bot_tokens: 0 })
  })
})

describe('inactivity', () => {
  test('the sweep closes chats idle past MLC_CHAT_INACTIVITY_TIMEOUT, then the visitor may rate', async () => {
    const v = visitor()
    const sid = await v.open()
    await v.say(sid, 'How do I reset my password?')
    const busy = await visitor().open()
    t.clock.advance(t.config.chatInactivityTimeout * 1000 - 1000)
    await t.call('POST', '/v1/messages', { body: { session_id: busy, text: 'still here?' } })
    t.clock.advance(2000)
    expect(await closeInactiveSessions(t.app.chat)).toBeGreaterThanOrEqual(1)
    const s = await t.call('GET', `/v1/sessions/${sid}`)
    expect(s.body.data).toMatchObject({ status: 'closed', closed_by: 'inactivity' })
    expect((await t.call('GET', `/v1/sessions/${busy}`)).body.data.status).toBe('human')
    const last = (await t.call('GET', `/v1/transcripts/${sid}`)).body.data.messages.at(-1)
    expect(last).toMatchObject({ role: 'system', text: 'This chat was closed after 30 minutes without messages.' })
    expect((await v.call('POST', `/sessions/${sid}/feedback`, { rating: 2 })).status).toBe(201)
    expect(await closeInactiveSessions(t.app.chat)).toBe(0)
  })
})

describe('4xx', () => {
  test('unknown session: 404 on every widget call, messages, transcripts and sessions', async () => {
    const v = visitor()
    for (const [method, path, body] of [
      ['GET', '/sessions/cs_nope', {}],
      ['GET', '/sessions/cs_nope/messages', {}],
      ['POST', '/sessions/cs_nope/messages', { text: 'hi' }],
      ['POST', '/sessions/cs_nope/handoff', {}],
      ['POST', '/sessions/cs_nope/close', {}],
      ['POST', '/sessions/cs_nope/feedback', { rating: 5 }],
    ] as const) {
      expectError(await v.call(method, path, body), 404, 'not_found', 'session_id')
    }
    expectError(await t.call('POST', '/v1/messages', { body: { session_id: 'cs_nope', text: 'hi' } }), 404, 'not_found', 'session_id')
    expectError(await t.call('GET', '/v1/messages?session_id=cs_nope'), 404, 'not_found', 'session_id')
    expectError(await t.call('GET', '/v1/transcripts?sessionId=cs_nope'), 404, 'not_found', 'sessionId')
    expectError(await t.call('GET', '/v1/sessions/cs_nope'), 404, 'not_found', 'id')
    expectError(await t.call('POST', '/v1/sessions/cs_nope?action=close'), 404, 'not_found', 'id')
  })

  test("nothing a visitor sends reads another visitor's session", async () => {
    const owner = visitor()
    const sid = await owner.open()
    await owner.say(sid, 'How do I reset my password?')
    const stranger = visitor()
    const sameKeyOtherAnon = new Visitor(t, pk, { visitor_key: `anon:${owner.cred.anon_id}` })
    const otherSite = new Visitor(t, pk2, owner.cred)
    for (const who of [stranger, sameKeyOtherAnon, otherSite]) {
      expectError(await who.call('GET', `/sessions/${sid}/messages`), 404, 'not_found')
      expectError(await who.call('POST', `/sessions/${sid}/messages`, { text: 'hi' }), 404, 'not_found')
      expectError(await who.call('POST', `/sessions/${sid}/close`), 404, 'not_found')
    }
    expect((await owner.call('GET', `/sessions/${sid}/messages`)).body.data.messages).toHaveLength(2)
  })

  test("another site's token gets 404 for the session, its transcript and its messages", async () => {
    const sid = await visitor().open()
    expectError(await t.call('GET', `/v1/transcripts?sessionId=${sid}`, { token: t.otherSiteToken }), 404, 'not_found', 'sessionId')
    expectError(await t.call('GET', `/v1/sessions/${sid}`, { token: t.otherSiteToken }), 404, 'not_found')
    expectError(await t.call('POST', '/v1/messages', { token: t.otherSiteToken, body: { session_id: sid, text: 'x' } }), 404, 'not_found', 'session_id')
    const list = await t.call('GET', '/v1/sessions?limit=100', { token: t.otherSiteToken })
    expect(list.body.data.map((s: { id: string }) => s.id)).not.toContain(sid)
  })

  test('closed session: 409 for messages (visitor and agent), handoff and a second close', async () => {
    const v = visitor()
    const sid = await v.open()
    expect((await v.call('POST', `/sessions/${sid}/close`)).body.data).toMatchObject({ status: 'closed' })
    expectError(await v.say(sid, 'hello?'), 409, 'conflict', 'session_id')
    expectError(await v.call('POST', `/sessions/${sid}/handoff`), 409, 'conflict', 'session_id')
    expectError(await v.call('POST', `/sessions/${sid}/close`), 409, 'conflict')
    expectError(await t.call('POST', '/v1/messages', { body: { session_id: sid, text: 'hi' } }), 409, 'conflict', 'session_id')
    expectError(await t.call('POST', `/v1/sessions/${sid}?action=close`), 409, 'conflict')
  })

  test('feedback: 409 while open, 409 the second time, 400 for a rating outside 1..5', async () => {
    const v = visitor()
    const sid = await v.open()
    expectError(await v.call('POST', `/sessions/${sid}/feedback`, { rating: 5 }), 409, 'conflict', 'session_id')
    await v.call('POST', `/sessions/${sid}/close`)
    for (const rating of [0, 6, 2.5, 'five', null, -1]) {
      expectError(await v.call('POST', `/sessions/${sid}/feedback`, { rating }), 400, 'bad_request', 'rating')
    }
    expectError(await v.call('POST', `/sessions/${sid}/feedback`, {}), 400, 'bad_request', 'rating')
    expectError(await v.call('POST', `/sessions/${sid}/feedback`, { rating: 3, comment: 'x'.repeat(2001) }), 400, 'bad_request', 'comment')
    expect((await v.call('POST', `/sessions/${sid}/feedback`, { rating: 5 })).status).toBe(201)
    expectError(await v.call('POST', `/sessions/${sid}/feedback`, { rating: 1 }), 409, 'conflict', 'session_id')
    expect((await v.call('GET', `/sessions/${sid}`)).body.data.rated).toBe(true)
  })

  test('text over 4,000 characters, blank or missing: 400 naming text (widget and agent)', async () => {
    const v = visitor()
    const sid = await v.open()
    for (const text of ['x'.repeat(4001), '', '   ', undefined, 42]) {
      expectError(await v.call('POST', `/sessions/${sid}/messages`, { text }), 400, 'bad_request', 'text')
      expectError(await t.call('POST', '/v1/messages', { body: { session_id: sid, text } }), 400, 'bad_request', 'text')
    }
    expect((await v.say(sid, 'x'.repeat(4000))).status).toBe(201)
  })

  const readResources = ['sessions', 'messages?session_id=cs_x', 'handoffs', 'transcripts?sessionId=cs_x', 'usage', 'feedback', 'kb_articles', 'chat_settings']
  for (const path of readResources) {
    test(`a publishable key cannot read ${path.split('?')[0]}: 403`, async () => {
      expectError(await t.call('GET', `/v1/${path}`, { token: pk }), 403, 'forbidden')
      expectError(await t.call('GET', `/v1/api.ashx?resource=${path.replace('?', '&')}`, { token: pk }), 403, 'forbidden')
    })
  }

  test('a read token cannot write: 403 for replies, closing, articles and settings', async () => {
    const sid = await visitor().open()
    expectError(await t.call('POST', '/v1/messages', { token: t.readToken, body: { session_id: sid, text: 'x' } }), 403, 'forbidden')
    expectError(await t.call('POST', `/v1/sessions/${sid}?action=close`, { token: t.readToken }), 403, 'forbidden')
    expectError(await t.call('POST', '/v1/kb_articles', { token: t.readToken, body: KB[0] }), 403, 'forbidden')
    expectError(await t.call('PATCH', '/v1/chat_settings', { token: t.readToken, body: { max_bot_replies: 3 } }), 403, 'forbidden')
  })

  test('no token on the agent resources: 401', async () => {
    for (const path of ['/v1/sessions', '/v1/handoffs', '/v1/feedback', '/v1/usage', '/v1/transcripts?sessionId=x']) {
      expectError(await t.call('GET', path, { token: null }), 401, 'unauthorized')
    }
  })

  test('widget: missing or unknown site key, or an API token in its place: 401', async () => {
    expectError(await t.call('POST', '/v1/widget/sessions', { token: null, body: { anon_id: 'a1' } }), 401, 'unauthorized')
    expectError(await t.call('POST', '/v1/widget/sessions', { token: null, body: { site_key: 'pk_unknown', anon_id: 'a1' } }), 401, 'unauthorized')
    expectError(await t.call('POST', '/v1/widget/sessions', { token: null, body: { site_key: t.writeToken, anon_id: 'a1' } }), 401, 'unauthorized')
    // A bearer token does not open the widget either: only the publishable key does.
    expectError(await t.call('POST', '/v1/widget/sessions', { body: { anon_id: 'a1' } }), 401, 'unauthorized')
    const viaHeader = await t.call('POST', '/v1/widget/sessions', { token: null, headers: { 'x-mlc-site-key': pk }, body: { anon_id: 'hdr-1' } })
    expect(viaHeader.status).toBe(201)
  })

  test('widget: opening without anon_id or visitor_key, or with a bad one: 400', async () => {
    expectError(await t.call('POST', '/v1/widget/sessions', { token: null, body: { site_key: pk } }), 400, 'bad_request', 'anon_id')
    expectError(await t.call('POST', '/v1/widget/sessions', { token: null, body: { site_key: pk, anon_id: 'has space' } }), 400, 'bad_request', 'anon_id')
    expectError(
      await t.call('POST', '/v1/widget/sessions', { token: null, body: { site_key: pk, visitor_key: 'k'.repeat(129) } }),
      400,
      'bad_request',
      'visitor_key',
    )
    expectError(
      await t.call('POST', '/v1/widget/sessions', { token: null, rawBody: '{"site_key":', headers: { 'x-mlc-site-key': pk } }),
      400,
      'bad_request',
      'body',
    )
  })

  test('widget: a claimed visitor_key needs an identity token when the site requires verification: 401', async () => {
    const other = await createSite(t.store, t.clock, { name: 'Verified' })
    const token = (await createToken(t.store, t.clock, { siteId: other.id, scopes: 'read,write', name: 'w' })).token
    const on = await t.call('PATCH', '/v1/site_settings', { token, body: { identity_required: true } })
    expect(on.status).toBe(200)
    const claim = new Visitor(t, other.publishable_key, { visitor_key: 'u_1' }, '10.6.6.6')
    expectError(await claim.call('POST', '/sessions'), 401, 'unauthorized')
    const anon = new Visitor(t, other.publishable_key, { anon_id: 'still-fine' }, '10.6.6.7')
    expect((await anon.call('POST', '/sessions')).status).toBe(201)
  })

  test('agent resources: bad status, action, since, limit and cursor are 400s naming the param', async () => {
    const sid = await visitor().open()
    const cases: [string, string, string][] = [
      ['GET', '/v1/sessions?status=open', 'status'],
      ['GET', '/v1/sessions?limit=0', 'limit'],
      ['GET', '/v1/sessions?cursor=bogus', 'cursor'],
      ['POST', `/v1/sessions/${sid}`, 'action'],
      ['POST', `/v1/sessions/${sid}?action=reopen`, 'action'],
      ['GET', '/v1/handoffs?since=yesterday', 'since'],
      ['GET', '/v1/handoffs?limit=101', 'limit'],
      ['GET', '/v1/handoffs?cursor=abc', 'cursor'],
      ['GET', '/v1/feedback?rating=6', 'rating'],
      ['GET', '/v1/feedback?since=2026-13-45', 'since'],
      ['GET', '/v1/transcripts', 'sessionId'],
      ['GET', '/v1/messages', 'session_id'],
      ['GET', `/v1/messages?session_id=${sid}&after=-1`, 'after'],
      ['POST', '/v1/messages', 'session_id'],
    ]
    for (const [method, path, param] of cases) {
      const r = await t.call(method, path, method === 'POST' && path === '/v1/messages' ? { body: { text: 'x' } } : {})
      expectError(r, 400, 'bad_request', param)
    }
  })

  test('widget rate limits: per visitor, then per IP, with Retry-After', async () => {
    const limited = await createTestApp({ MLC_WIDGET_RATE_PER_VISITOR: '3', MLC_WIDGET_RATE_PER_IP: '5' })
    try {
      const key = await siteKeyOf(limited, limited.site1)
      const a = new Visitor(limited, key, { anon_id: 'rl-a' }, '10.5.5.5')
      const sid = await a.open()
      expect((await a.call('GET', `/sessions/${sid}`)).headers.get('x-ratelimit-limit')).toBe('3')
      await a.call('GET', `/sessions/${sid}`)
      const over = await a.call('GET', `/sessions/${sid}`)
      expectError(over, 429, 'rate_limited')
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      // Same IP, other visitors: the IP bucket (5) runs out too.
      const b = new Visitor(limited, key, { anon_id: 'rl-b' }, '10.5.5.5')
      await b.open()
      expectError(await new Visitor(limited, key, { anon_id: 'rl-c' }, '10.5.5.5').call('POST', '/sessions'), 429, 'rate_limited')
      // Another IP is not affected; a minute later the visitor may talk again.
      expect((await new Visitor(limited, key, { anon_id: 'rl-d' }, '10.5.5.6').call('POST', '/sessions')).status).toBe(201)
      limited.clock.advance(60_000)
      expect((await a.call('GET', `/sessions/${sid}`)).status).toBe(200)
    } finally {
      await limited.cleanup()
    }
  })
})
