/**
 * The event feed against real deliveries: the bytes a loopback HTTP receiver got in a webhook are
 * the bytes of the same event inside the feed's JSON text (same id as webhook-id), and a visitor
 * erased while a delivery waits for its retry is sent erased, signed over what is sent.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { siteKeyOf, Visitor } from '../chat/harness'
import { createWebhookTestApp, type Receiver, seedVerify, startReceiver, until, type WebhookTestApp } from './harness'

let t: WebhookTestApp | null = null
const receivers: Receiver[] = []
afterEach(async () => {
  for (const r of receivers.splice(0)) r.stop()
  await t?.close()
  t = null
})

function receiver(): Receiver {
  const r = startReceiver()
  receivers.push(r)
  return r
}

async function subscribe(app: WebhookTestApp, url: string): Promise<{ id: number; secret: string }> {
  const res = await app.call('POST', '/v1/webhook_subscriptions', { body: { url, events: ['*'] } })
  if (res.status !== 201) throw new Error(JSON.stringify(res.body))
  return res.body.data
}

/** Where `body` sits in the feed's text as one whole element of `data` (after "[" or ",", before "," or "]"), or -1. */
function elementAt(feedText: string, body: string): number {
  const at = feedText.indexOf(body)
  if (at < 0) return -1
  const before = feedText[at - 1]
  const after = feedText[at + body.length]
  return (before === '[' || before === ',') && (after === ',' || after === ']') ? at : -1
}

describe('the feed holds what the webhooks delivered', () => {
  test('a handoff and a ping: the received bodies are byte for byte the events in the list and by id', async () => {
    t = await createWebhookTestApp()
    const app = t
    const rx = receiver()
    const sub = await subscribe(app, rx.url)
    // A visitor whose fields need escaping: quotes, a backslash, non-ASCII, an emoji, a line separator.
    await app.call('POST', '/v1/visitors', { body: { key: 'u_"q"', name: 'Zoë \\ Ünal 👋\u2028', email: 'zoe@example.com' } })
    const v = new Visitor(app, await siteKeyOf(app, app.site1), { visitor_key: 'u_"q"' }, '10.5.5.5')
    const sid = await v.open()
    await v.say(sid, 'Price in € — "exactly" 1.50?')
    await v.call('POST', `/sessions/${sid}/handoff`)
    const ping = await app.call('POST', `/v1/webhook_subscriptions/${sub.id}?action=test`)
    expect(ping.status).toBe(200)
    const received = await rx.waitFor(2)

    const feedText = await (await app.request('GET', '/v1/events', { token: app.readToken })).text()
    const feed = JSON.parse(feedText)
    expect(feed.data).toHaveLength(2)
    for (const r of received) {
      const id = r.headers['webhook-id'] as string
      expect(JSON.parse(r.body).id).toBe(id)
      expect(seedVerify(r.body, r.headers['x-mlc-signature'] as string, sub.secret)).toBe(true)
      expect(elementAt(feedText, r.body)).toBeGreaterThan(0)
      // The same event at its place in the list.
      expect(feed.data.findIndex((e: { id: string }) => e.id === id)).toBe(r.headers['x-mlc-event'] === 'ping' ? 0 : 1)
      const oneText = await (await app.request('GET', `/v1/events/${id}`, { token: app.readToken })).text()
      expect(oneText).toStartWith(`{"ok":true,"data":${r.body},"request_id":"`)
    }
    const handoff = JSON.parse(received.find((r) => r.headers['x-mlc-event'] === 'handoff')?.body as string)
    expect(handoff.visitor).toEqual({ key: 'u_"q"', name: 'Zoë \\ Ünal 👋\u2028', email: 'zoe@example.com' })
    // Resuming after the handoff (oldest first) gives the ping, and nothing after it.
    const resumed = await app.call('GET', `/v1/events?order=asc&starting_after=${handoff.id}`, { token: app.readToken })
    expect(resumed.body.data.map((e: { event: string }) => e.event)).toEqual(['ping'])
  })
})

describe('erasure before a retry', () => {
  test('the retry sends the erased body, signed, the same bytes as the feed', async () => {
    t = await createWebhookTestApp()
    const app = t
    const rx = receiver()
    rx.respond((_, n) => new Response('', { status: n === 1 ? 503 : 200 }))
    const sub = await subscribe(app, rx.url)
    await app.call('POST', '/v1/visitors', { body: { key: 'u_gone', name: 'Gwen', email: 'gwen@example.com' } })
    const v = new Visitor(app, await siteKeyOf(app, app.site1), { visitor_key: 'u_gone' }, '10.5.5.6')
    const sid = await v.open()
    await v.say(sid, 'My phone is 555-0100')
    await v.call('POST', `/sessions/${sid}/handoff`)
    const [first] = await rx.waitFor(1)
    expect(first?.body).toContain('gwen@example.com')
    const deliveryId = first?.headers['x-mlc-delivery'] as string
    await until(async () => (await app.store.webhooks.getDelivery(app.site1, deliveryId))?.status === 'failed', 5000, 'the failed first attempt')

    expect((await app.call('DELETE', '/v1/visitors?key=u_gone')).status).toBe(200)
    app.clock.advance(30_000)
    app.app.webhooks.wake()
    const [, second] = await rx.waitFor(2)
    expect(second?.headers['webhook-id']).toBe(first?.headers['webhook-id'] as string)
    expect(second?.body).not.toBe(first?.body)
    for (const personal of ['u_gone', 'Gwen', 'gwen@example.com', '555-0100']) expect(second?.body).not.toContain(personal)
    expect(JSON.parse(second?.body as string)).toMatchObject({
      event: 'handoff',
      session_id: sid,
      visitor: { key: null, name: null, email: null },
      summary: '',
    })
    expect(seedVerify(second?.body as string, second?.headers['x-mlc-signature'] as string, sub.secret)).toBe(true)
    const feedText = await (await app.request('GET', '/v1/events', { token: app.readToken })).text()
    expect(elementAt(feedText, second?.body as string)).toBeGreaterThan(0)
  })
})
