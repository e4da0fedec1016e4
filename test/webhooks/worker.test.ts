/**
 * The delivery worker thread against real loopback receivers: schedule and dead-letter (moved by
 * the ManualClock, never by sleeping), Retry-After, 410, error classes, the address re-check before
 * each send, bounded concurrency, waking and sleeping, and shutdown.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { enqueueEvent } from '../../src/webhooks/enqueue'
import { createWebhookTestApp, type Receiver, startReceiver, until, type WebhookTestApp } from './harness'

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

async function subscribe(app: WebhookTestApp, url: string, events = ['*']): Promise<{ id: number; secret: string }> {
  const res = await app.call('POST', '/v1/webhook_subscriptions', { body: { url, events } })
  if (res.status !== 201) throw new Error(JSON.stringify(res.body))
  return res.body.data
}

async function emit(app: WebhookTestApp, payload: Record<string, unknown> = { session_id: 's_1' }, type: 'handoff' | 'feedback' = 'handoff') {
  const out = await app.store.transaction((tx) => enqueueEvent(tx, app.clock, { siteId: app.site1, type, payload }))
  app.app.webhooks.wake()
  return out
}

async function delivery(app: WebhookTestApp, id: string) {
  const row = await app.store.webhooks.getDelivery(app.site1, id)
  if (!row) throw new Error(`no delivery ${id}`)
  return row
}

/** Waits until the delivery has `n` recorded attempts. */
function attempts(app: WebhookTestApp, id: string, n: number) {
  return until(
    async () => {
      const row = await delivery(app, id)
      return row.attempts >= n && row.lease_until_ms === null && row
    },
    5000,
    `attempt ${n} of ${id}`,
  )
}

/** Moves the test clock and tells the worker. */
function advance(app: WebhookTestApp, ms: number) {
  app.clock.advance(ms)
  app.app.webhooks.wake()
}

describe('retry schedule', () => {
  test('1 + 5 attempts at 0, 30 s, 2 m, 10 m, 1 h, 6 h, then dead-lettered', async () => {
    t = await createWebhookTestApp()
    const rx = receiver()
    rx.respond(() => new Response('down', { status: 500 }))
    await subscribe(t, rx.url)
    const t0 = t.clock.now()
    const { eventId, deliveryIds } = await emit(t)
    const id = deliveryIds[0] as string
    await attempts(t, id, 1)
    expect(await delivery(t, id)).toMatchObject({ status: 'failed', next_attempt_ms: t0 + 30_000 })
    const gaps = [30, 120, 600, 3600, 21600]
    for (const [i, gap] of gaps.entries()) {
      // One second early: nothing is sent.
      advance(t, gap * 1000 - 1000)
      await Bun.sleep(50)
      expect(rx.received).toHaveLength(i + 1)
      advance(t, 1000)
      await attempts(t, id, i + 2)
    }
    const final = await delivery(t, id)
    expect(final).toMatchObject({ status: 'dead', attempts: 6, next_attempt_ms: null, last_status_code: 500, last_error: 'http' })
    const log = (await t.call('GET', `/v1/webhook_deliveries/${id}`)).body.data.attempt_log
    const offsets = log.map((a: any) => (Date.parse(a.at) - t0) / 1000)
    expect(offsets).toEqual([0, 30, 150, 750, 4350, 25950])
    // Every retry is the same event: same body, same webhook-id.
    expect(new Set(rx.received.map((r) => r.body)).size).toBe(1)
    expect(new Set(rx.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([eventId]))
    // Dead means no more automatic attempts.
    advance(t, 7 * 24 * 3600 * 1000)
    await Bun.sleep(50)
    expect(rx.received).toHaveLength(6)
  })

  test('MLC_WEBHOOK_BACKOFF shortens the schedule', async () => {
    t = await createWebhookTestApp({ MLC_WEBHOOK_BACKOFF: '1,2' })
    const rx = receiver()
    rx.respond(() => new Response('', { status: 502 }))
    await subscribe(t, rx.url)
    const id = (await emit(t)).deliveryIds[0] as string
    await attempts(t, id, 1)
    advance(t, 1000)
    await attempts(t, id, 2)
    advance(t, 2000)
    await attempts(t, id, 3)
    expect((await delivery(t, id)).status).toBe('dead')
  })

  test('a success after failures ends the schedule', async () => {
    t = await createWebhookTestApp()
    const rx = receiver()
    rx.respond((_, n) => new Response('', { status: n < 3 ? 503 : 204 }))
    await subscribe(t, rx.url)
    const id = (await emit(t)).deliveryIds[0] as string
    await attempts(t, id, 1)
    advance(t, 30_000)
    await attempts(t, id, 2)
    advance(t, 120_000)
    await attempts(t, id, 3)
    expect(await delivery(t, id)).toMatchObject({ status: 'succeeded', next_attempt_ms: null, last_status_code: 204, last_error: null })
  })

  const retryAfter: [number, string, (now: number) => string, number][] = [
    [429, 'seconds later than the schedule', () => '300', 300_000],
    [503, 'an HTTP date later than the schedule', (now) => new Date(now + 900_000).toUTCString(), 900_000],
    [429, 'seconds earlier than the schedule (ignored)', () => '5', 30_000],
    [500, 'on a 500 (ignored)', () => '3600', 30_000],
  ]
  for (const [status, what, header, expected] of retryAfter) {
    test(`Retry-After ${what} on ${status}: next try after ${expected / 1000} s`, async () => {
      t = await createWebhookTestApp()
      const app = t
      const rx = receiver()
      rx.respond(() => new Response('', { status, headers: { 'retry-after': header(app.clock.now()) } }))
      await subscribe(t, rx.url)
      const id = (await emit(t)).deliveryIds[0] as string
      await attempts(t, id, 1)
      expect((await delivery(t, id)).next_attempt_ms).toBe(t.clock.now() + expected)
    })
  }
})

describe('410 Gone', () => {
  test('deactivates the subscription and dead-letters what it had queued; other subscriptions carry on', async () => {
    t = await createWebhookTestApp()
    const gone = receiver()
    const fine = receiver()
    gone.respond((_, n) => new Response('', { status: n === 1 ? 500 : 410 }))
    const sub = await subscribe(t, gone.url)
    await subscribe(t, fine.url)
    const first = await emit(t, { n: 1 })
    await attempts(t, first.deliveryIds[0] as string, 1)
    const second = await emit(t, { n: 2 })
    await attempts(t, second.deliveryIds[0] as string, 1)
    expect(await delivery(t, second.deliveryIds[0] as string)).toMatchObject({ status: 'dead', last_status_code: 410, next_attempt_ms: null })
    const s = (await t.call('GET', `/v1/webhook_subscriptions/${sub.id}`)).body.data
    expect(s).toMatchObject({ active: false, disabled_reason: 'gone' })
    expect(await delivery(t, first.deliveryIds[0] as string)).toMatchObject({ status: 'dead', next_attempt_ms: null })
    await fine.waitFor(2)
    // New events skip the inactive subscription.
    expect((await emit(t, { n: 3 })).deliveryIds).toHaveLength(1)
    await fine.waitFor(3)
    advance(t, 3600_000)
    await Bun.sleep(50)
    expect(gone.received).toHaveLength(2)
  })
})

describe('attempt errors and the delivery log', () => {
  test('timeout, refused, tls and http (redirects are not followed); 4 KB of the answer; no secret in the log', async () => {
    t = await createWebhookTestApp({ MLC_WEBHOOK_TIMEOUT_MS: '300' })
    const slow = receiver()
    slow.respond(async () => {
      await Bun.sleep(1000)
      return new Response('late')
    })
    const target = receiver()
    const redirect = receiver()
    redirect.respond(() => Response.redirect(target.url, 302))
    const big = receiver()
    big.respond(() => new Response(`${'é'.repeat(3000)}`, { status: 400 }))
    const closed = startReceiver()
    const closedUrl = closed.url
    closed.stop()
    const plain = receiver()
    const cases: [string, string, number | null][] = [
      [slow.url, 'timeout', null],
      [closedUrl, 'refused', null],
      [plain.url.replace('http:', 'https:'), 'tls', null],
      [redirect.url, 'http', 302],
      [big.url, 'http', 400],
    ]
    const subs: { id: number; secret: string }[] = []
    for (const [url] of cases) subs.push(await subscribe(t, url))
    const { deliveryIds } = await emit(t)
    expect(deliveryIds).toHaveLength(cases.length)
    for (const [i, [, error, status]] of cases.entries()) {
      const row = await until(
        async () =>
          (
            await t?.store.webhooks.listDeliveries(t.site1, { subscriptionId: subs[i]?.id as number, status: null, event: null, beforeSeq: null, limit: 1 })
          )?.[0],
        5000,
      )
      await attempts(t, row.id, 1)
      const res = await t.call('GET', `/v1/webhook_deliveries/${row.id}`)
      const [a] = res.body.data.attempt_log
      expect(a).toMatchObject({ number: 1, error, status_code: status })
      expect(a.duration_ms).toBeGreaterThanOrEqual(0)
      expect(a.request_headers).toMatchObject({ 'content-type': 'application/json', 'x-mlc-delivery': row.id, 'webhook-id': row.event_id })
      const logText = JSON.stringify(res.body.data)
      expect(logText).not.toContain(String(subs[i]?.secret).slice(6))
      if (error === 'timeout') expect(a.duration_ms).toBeLessThan(900)
    }
    // The redirect was not followed.
    expect(redirect.received).toHaveLength(1)
    expect(target.received).toHaveLength(0)
    const bigRow = (
      await t.store.webhooks.listDeliveries(t.site1, { subscriptionId: subs[4]?.id as number, status: null, event: null, beforeSeq: null, limit: 1 })
    )[0]
    const bigLog = (await t.call('GET', `/v1/webhook_deliveries/${bigRow?.id}`)).body.data.attempt_log[0]
    expect(Buffer.byteLength(bigLog.response_body)).toBeLessThanOrEqual(4096)
    expect(Buffer.byteLength(bigLog.response_body)).toBeGreaterThan(4090)
    expect(bigLog.response_body.startsWith('éé')).toBe(true)
  })

  test('the address is checked again right before every send: a subscription that now points at loopback is refused without a request', async () => {
    // Private addresses are NOT allowed here; the subscription is written directly, as if its DNS changed after creation.
    t = await createWebhookTestApp({ MLC_WEBHOOK_ALLOW_PRIVATE: '0' })
    const rx = receiver()
    await t.store.webhooks.insertSubscription(t.site1, rx.url, '["*"]', '', 'whsec_dGVzdA==', t.clock.now())
    const id = (await emit(t)).deliveryIds[0] as string
    const row = await attempts(t, id, 1)
    expect(row).toMatchObject({ status: 'failed', last_error: 'refused', last_status_code: null })
    const log = (await t.call('GET', `/v1/webhook_deliveries/${id}`)).body.data.attempt_log
    expect(log[0].error_message).toContain('loopback')
    expect(rx.received).toHaveLength(0)
  })
})

describe('concurrency', () => {
  test('bounded per subscription and globally: a stuck endpoint does not starve the others', async () => {
    t = await createWebhookTestApp({ MLC_WEBHOOK_CONCURRENCY: '4', MLC_WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION: '2', MLC_WEBHOOK_TIMEOUT_MS: '5000' })
    const stuck: Receiver[] = [receiver(), receiver()]
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    let open = 0
    let maxOpen = 0
    for (const s of stuck) {
      s.respond(async () => {
        open++
        maxOpen = Math.max(maxOpen, open)
        await gate
        open--
        return new Response('ok')
      })
    }
    const fast = receiver()
    for (const s of stuck) await subscribe(t, s.url)
    // Ten events for the stuck endpoints first: with one global limit they would fill every slot.
    for (let i = 0; i < 10; i++) await emit(t, { n: i })
    await until(() => open === 4, 3000, 'four stuck requests')
    await Bun.sleep(100)
    expect(stuck.map((s) => s.received.length)).toEqual([2, 2])
    expect(maxOpen).toBe(4)
    // Global limit reached: a new subscription waits for a free slot, then gets it.
    await subscribe(t, fast.url)
    await emit(t, { n: 'fast' })
    await Bun.sleep(100)
    expect(fast.received).toHaveLength(0)
    release()
    await fast.waitFor(1)
    await until(() => stuck.every((s) => s.received.length === 11), 5000, 'all stuck deliveries')
    expect(maxOpen).toBe(4)
  })

  test('per-subscription bound leaves room for other subscriptions', async () => {
    t = await createWebhookTestApp({ MLC_WEBHOOK_CONCURRENCY: '8', MLC_WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION: '2', MLC_WEBHOOK_TIMEOUT_MS: '5000' })
    const stuck = receiver()
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    stuck.respond(async () => {
      await gate
      return new Response('ok')
    })
    const fast = receiver()
    await subscribe(t, stuck.url)
    await subscribe(t, fast.url)
    for (let i = 0; i < 20; i++) await emit(t, { n: i })
    await fast.waitFor(20)
    expect(stuck.received).toHaveLength(2)
    release()
    await stuck.waitFor(20)
  })
})

describe('waking and sleeping (wall clock)', () => {
  test('the first attempt goes out at once; the retry exactly when due, with no wake', async () => {
    t = await createWebhookTestApp({ MLC_WEBHOOK_BACKOFF: '0.6' }, { realClock: true })
    const rx = receiver()
    rx.respond((_, n) => new Response('', { status: n === 1 ? 500 : 200 }))
    await subscribe(t, rx.url)
    t.clock.set(Date.now())
    const sent = Date.now()
    const id = (await emit(t)).deliveryIds[0] as string
    // Bounds are loose for loaded CI machines; with nothing but wake and timer (the idle check is
    // 60 s), anything this side of a second can only be the wake and the retry timer.
    const [first] = await rx.waitFor(1, 2000)
    expect((first?.atMs as number) - sent).toBeLessThan(500)
    const [, second] = await rx.waitFor(2, 3000)
    const gap = (second?.atMs as number) - (first?.atMs as number)
    expect(gap).toBeGreaterThanOrEqual(590)
    expect(gap).toBeLessThan(1500)
    await until(async () => (await delivery(t as WebhookTestApp, id)).status === 'succeeded', 2000)
  })
})

describe('shutdown', () => {
  test('attempts that answer within the grace period finish; the rest are handed back unattempted', async () => {
    t = await createWebhookTestApp({ MLC_WEBHOOK_TIMEOUT_MS: '2000' })
    const quick = receiver()
    quick.respond(async () => {
      await Bun.sleep(200)
      return new Response('ok')
    })
    const hung = receiver()
    hung.respond(async () => {
      await Bun.sleep(5000)
      return new Response('too late')
    })
    await subscribe(t, quick.url)
    await subscribe(t, hung.url)
    const { deliveryIds } = await emit(t)
    await quick.waitFor(1)
    await hung.waitFor(1)
    const started = Date.now()
    await t.app.webhooks.stop()
    // Grace is half the timeout: 1 s.
    expect(Date.now() - started).toBeLessThan(1800)
    const rows: Awaited<ReturnType<typeof delivery>>[] = []
    for (const id of deliveryIds) rows.push(await delivery(t as WebhookTestApp, id))
    const done = rows.find((r) => r.status === 'succeeded')
    const back = rows.find((r) => r.status === 'pending')
    expect(done?.attempts).toBe(1)
    expect(back).toMatchObject({ attempts: 0, lease_until_ms: null, next_attempt_ms: t.clock.now() })
    expect(await t.app.webhooks.status()).toMatchObject({ alive: false, queue_depth: 1, in_flight: 0 })
  })
})
