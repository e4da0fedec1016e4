/**
 * Erasing a visitor reaches the event feed: their handoff and feedback events stay (same ids,
 * same order, same bytes elsewhere) with the visitor fields blanked as the chat erasure blanks
 * them; other visitors' events, and another site's visitor with the same key, are untouched.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { siteKeyOf, Visitor } from '../../chat/harness'
import { createTestApp, expectError, type TestApp } from '../../helpers'

let t: TestApp

/** A chat of visitor `key` on a site: identified, a message, a handoff, closed, rated with a comment. Returns the session id. */
async function chat(pk: string, key: string, ip: string): Promise<string> {
  const v = new Visitor(t, pk, { visitor_key: key }, ip)
  const sid = await v.open()
  await v.say(sid, `I am ${key}, my card is 4242 4242`)
  await v.call('POST', `/sessions/${sid}/handoff`)
  await v.call('POST', `/sessions/${sid}/close`)
  const fb = await v.call('POST', `/sessions/${sid}/feedback`, { rating: 2, comment: `${key} was kept waiting` })
  if (fb.status !== 201) throw new Error(JSON.stringify(fb.body))
  return sid
}

/** The raw JSON text of each event of a feed answer, by id (the list holds them in order, comma-separated). */
async function rawEvents(token: string): Promise<Map<string, string>> {
  const text = await (await t.request('GET', '/v1/events?limit=100&order=asc', { token })).text()
  const parsed = JSON.parse(text).data as { id: string }[]
  const out = new Map<string, string>()
  let from = text.indexOf('"data":[') + '"data":['.length
  for (const e of parsed) {
    // Each event's text is what JSON.stringify of its parsed form gives (bodies are written that way); find it where it starts.
    const raw = JSON.stringify(e)
    expect(text.startsWith(raw, from)).toBe(true)
    out.set(e.id, raw)
    from += raw.length + 1
  }
  return out
}

let erasedSession: string
let keptSession: string
let otherSiteSession: string
let before: Map<string, string>
let otherSiteBefore: Map<string, string>

beforeAll(async () => {
  t = await createTestApp({ MLC_WEBHOOK_ALLOW_PRIVATE: '1' })
  // A subscription, so the events also have deliveries waiting in the outbox (no worker here).
  await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'http://127.0.0.1:9/hooks', events: ['*'] } })
  await t.call('POST', '/v1/visitors', { body: { key: 'u_erase', name: 'Erin Ünal', email: 'erin@example.com' } })
  await t.call('POST', '/v1/visitors', { body: { key: 'u_keep', name: 'Kim', email: 'kim@example.com' } })
  await t.call('POST', '/v1/visitors', { body: { key: 'u_erase', name: 'Other Erin', email: 'erin2@example.com' }, token: t.otherSiteToken })
  erasedSession = await chat(await siteKeyOf(t, t.site1), 'u_erase', '10.8.0.1')
  keptSession = await chat(await siteKeyOf(t, t.site1), 'u_keep', '10.8.0.2')
  otherSiteSession = await chat(await siteKeyOf(t, t.site2), 'u_erase', '10.8.0.3')
  before = await rawEvents(t.readToken)
  otherSiteBefore = await rawEvents(t.otherSiteToken)
  expect((await t.call('DELETE', '/v1/visitors?key=u_erase')).status).toBe(200)
})
afterAll(() => t.cleanup())

describe('erasing a visitor', () => {
  test('blanks the visitor, the handoff summary and the feedback comment in their events; ids, order and the rest stay', async () => {
    const after = await rawEvents(t.readToken)
    expect([...after.keys()]).toEqual([...before.keys()])
    const mine = [...before.entries()].filter(([, raw]) => JSON.parse(raw).session_id === erasedSession)
    expect(mine.map(([, raw]) => JSON.parse(raw).event)).toEqual(['handoff', 'feedback'])
    for (const [id, raw] of mine) {
      const was = JSON.parse(raw)
      expect(was.visitor).toEqual({ key: 'u_erase', name: 'Erin Ünal', email: 'erin@example.com' })
      const expected =
        was.event === 'handoff'
          ? { ...was, visitor: { key: null, name: null, email: null }, summary: '' }
          : { ...was, visitor: { key: null, name: null, email: null }, comment: null }
      // Same keys in the same order, the same values elsewhere (rating, reason, times, ids).
      expect(after.get(id)).toBe(JSON.stringify(expected))
      expect(after.get(id)).not.toContain('u_erase')
      expect(after.get(id)).not.toContain('4242')
      expect(after.get(id)).not.toContain('kept waiting')
      const one = await t.call('GET', `/v1/events/${id}`, { token: t.readToken })
      expect(JSON.stringify(one.body.data)).toBe(after.get(id) as string)
    }
    // The summary was not empty before (it quoted the visitor).
    expect(JSON.parse(mine[0]?.[1] as string).summary).toContain('4242')
  })

  test("other visitors' events keep their exact bytes", async () => {
    const after = await rawEvents(t.readToken)
    const kept = [...before.entries()].filter(([, raw]) => JSON.parse(raw).session_id === keptSession)
    expect(kept).toHaveLength(2)
    for (const [id, raw] of kept) expect(after.get(id)).toBe(raw)
  })

  test('another site with a visitor of the same key is untouched', async () => {
    const after = await rawEvents(t.otherSiteToken)
    expect(after).toEqual(otherSiteBefore)
    expect([...after.values()].filter((raw) => JSON.parse(raw).session_id === otherSiteSession).join()).toContain('Other Erin')
  })

  test("the deliveries still waiting send the erased body (they send their event's)", async () => {
    const deliveries = (await t.call('GET', '/v1/webhook_deliveries?limit=100')).body.data as { event_id: string; status: string }[]
    const after = await rawEvents(t.readToken)
    const erased = [...after.entries()].filter(([, raw]) => JSON.parse(raw).session_id === erasedSession).map(([id]) => id)
    expect(deliveries.filter((d) => erased.includes(d.event_id)).map((d) => d.status)).toEqual(['pending', 'pending'])
    for (const id of erased) {
      const sent = (await t.store.webhooks.getEvent(id))?.body as string
      expect(sent).toBe(after.get(id) as string)
      expect(sent).not.toContain('erin@example.com')
    }
  })

  test('a second erasure finds no visitor and changes nothing', async () => {
    const now = await rawEvents(t.readToken)
    expectError(await t.call('DELETE', '/v1/visitors?key=u_erase'), 404, 'not_found', 'key')
    expect(await rawEvents(t.readToken)).toEqual(now)
  })
})
