/** webhook_subscriptions: CRUD, scopes, validation, SSRF refusals, rotation and the test ping. */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { Webhook } from 'standardwebhooks'
import { createTestApp, expectError, type TestApp } from '../helpers'
import { createWebhookTestApp, type Receiver, seedVerify, startReceiver, type WebhookTestApp } from '../webhooks/harness'

describe('webhook_subscriptions without private addresses (the default)', () => {
  let t: TestApp
  beforeEach(async () => {
    t = await createTestApp()
  })
  afterEach(() => t.cleanup())

  // Each class is refused from the address alone: nothing is ever sent to these hosts.
  const refused: [string, string][] = [
    ['http://127.0.0.1/hook', 'loopback'],
    ['http://127.8.9.10:8080/hook', 'loopback'],
    ['http://localhost:3000/hook', 'loopback'],
    ['http://api.localhost/hook', 'loopback'],
    ['http://[::1]/hook', 'loopback'],
    ['http://0.0.0.0/hook', 'unspecified'],
    ['http://[::]/hook', 'unspecified'],
    ['http://10.1.2.3/hook', 'private'],
    ['http://172.16.0.1/hook', 'private'],
    ['http://192.168.1.10/hook', 'private'],
    ['http://169.254.1.1/hook', 'link-local'],
    ['http://[fe80::1]/hook', 'link-local'],
    ['http://100.64.0.1/hook', 'cgnat'],
    ['http://[fd12:3456::1]/hook', 'unique-local'],
    ['http://169.254.169.254/latest/meta-data', 'metadata'],
    ['http://metadata.google.internal/computeMetadata/v1', 'metadata'],
    ['http://[fd00:ec2::254]/', 'metadata'],
    ['http://[::ffff:10.0.0.1]/hook', 'private'],
    ['http://[::ffff:127.0.0.1]/hook', 'loopback'],
    ['http://[::ffff:169.254.169.254]/hook', 'metadata'],
    ['http://2130706433/hook', 'loopback'],
    ['http://0x7f.1/hook', 'loopback'],
  ]
  for (const [url, cls] of refused) {
    test(`refuses ${url} (${cls}) with 400 param url`, async () => {
      const res = await t.call('POST', '/v1/webhook_subscriptions', { body: { url, events: ['*'] } })
      expectError(res, 400, 'bad_request', 'url')
      expect(res.body.error.message).toContain(cls)
    })
  }

  test('PATCH re-checks the url', async () => {
    // Created with an address literal (public, no lookup needed), then moved to a private one.
    const created = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'https://93.184.215.14/hook', events: ['handoff'] } })
    expect(created.status).toBe(201)
    const res = await t.call('PATCH', `/v1/webhook_subscriptions/${created.body.data.id}`, { body: { url: 'http://192.168.0.5/x' } })
    expectError(res, 400, 'bad_request', 'url')
  })

  test('a public address literal is accepted without any lookup', async () => {
    const res = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'https://[2606:4700::1111]/hook', events: ['feedback'] } })
    expect(res.status).toBe(201)
    expect(res.body.data.url).toBe('https://[2606:4700::1111]/hook')
  })
})

describe('webhook_subscriptions CRUD', () => {
  let t: TestApp
  beforeEach(async () => {
    t = await createTestApp({ MLC_WEBHOOK_ALLOW_PRIVATE: '1' })
  })
  afterEach(() => t.cleanup())

  test('create answers 201 with the secret once; GET shows only a prefix', async () => {
    const res = await t.call('POST', '/v1/webhook_subscriptions', {
      body: { url: 'http://127.0.0.1:9/hook', events: ['handoff', 'feedback'], description: ' CRM sync ' },
    })
    expect(res.status).toBe(201)
    const d = res.body.data
    expect(d).toMatchObject({ url: 'http://127.0.0.1:9/hook', events: ['handoff', 'feedback'], active: true, description: 'CRM sync', disabled_reason: null })
    expect(d.id).toBeInteger()
    expect(d.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(Buffer.from(d.secret.slice(6), 'base64')).toHaveLength(32)
    expect(d.created_utc).toBe('2026-11-25T12:00:00.000Z')
    const got = await t.call('GET', `/v1/webhook_subscriptions/${d.id}`)
    expect(got.body.data.secret).toBeUndefined()
    expect(got.body.data.secret_prefix).toBe(`${d.secret.slice(0, 10)}...`)
    const legacy = await t.call('GET', '/v1/api.ashx?resource=webhook_subscriptions')
    expect(legacy.body.data.map((s: any) => s.id)).toEqual([d.id])
    expect(legacy.body.data[0].secret).toBeUndefined()
  })

  const bad: [unknown, string][] = [
    [{ events: ['*'] }, 'url'],
    [{ url: 'ftp://example.com/x', events: ['*'] }, 'url'],
    [{ url: 'not a url', events: ['*'] }, 'url'],
    [{ url: 'http://user:pw@127.0.0.1/x', events: ['*'] }, 'url'],
    [{ url: 'http://127.0.0.1/x' }, 'events'],
    [{ url: 'http://127.0.0.1/x', events: [] }, 'events'],
    [{ url: 'http://127.0.0.1/x', events: ['signup'] }, 'events.0'],
    [{ url: 'http://127.0.0.1/x', events: ['ping', 'ping'] }, 'events'],
    [{ url: 'http://127.0.0.1/x', events: ['*'], description: 'x'.repeat(257) }, 'description'],
  ]
  for (const [body, param] of bad) {
    test(`bad input ${JSON.stringify(body).slice(0, 60)} is 400 naming ${param}`, async () => {
      expectError(await t.call('POST', '/v1/webhook_subscriptions', { body }), 400, 'bad_request', param)
    })
  }

  test('PATCH changes fields; active=false records why; DELETE removes it', async () => {
    const { body } = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'http://127.0.0.1:9/a', events: ['*'] } })
    const id = body.data.id
    const patched = await t.call('PATCH', `/v1/api.ashx?resource=webhook_subscriptions&id=${id}`, {
      body: { url: 'http://127.0.0.1:9/b', events: ['ping'], description: 'pinger', active: false },
    })
    expect(patched.status).toBe(200)
    expect(patched.body.data).toMatchObject({ url: 'http://127.0.0.1:9/b', events: ['ping'], description: 'pinger', active: false, disabled_reason: 'manual' })
    const back = await t.call('PATCH', `/v1/webhook_subscriptions/${id}`, { body: { active: true } })
    expect(back.body.data).toMatchObject({ active: true, disabled_reason: null })
    expect((await t.call('DELETE', `/v1/webhook_subscriptions/${id}`)).body.data).toEqual({ id, deleted: true })
    expectError(await t.call('GET', `/v1/webhook_subscriptions/${id}`), 404, 'not_found', 'id')
    expectError(await t.call('PATCH', '/v1/webhook_subscriptions', { body: { active: true } }), 400, 'bad_request', 'id')
  })

  test('scopes and sites: read tokens read, only write tokens write, other sites see nothing', async () => {
    const { body } = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'http://127.0.0.1:9/a', events: ['*'] } })
    const id = body.data.id
    expect((await t.call('GET', '/v1/webhook_subscriptions', { token: t.readToken })).status).toBe(200)
    expectError(
      await t.call('POST', '/v1/webhook_subscriptions', { token: t.readToken, body: { url: 'http://127.0.0.1:9/a', events: ['*'] } }),
      403,
      'forbidden',
    )
    expectError(await t.call('POST', `/v1/webhook_subscriptions/${id}?action=rotate_secret`, { token: t.readToken }), 403, 'forbidden')
    expectError(await t.call('DELETE', `/v1/webhook_subscriptions/${id}`, { token: t.readToken }), 403, 'forbidden')
    expectError(await t.call('GET', `/v1/webhook_subscriptions/${id}`, { token: t.otherSiteToken }), 404, 'not_found')
    expectError(await t.call('PATCH', `/v1/webhook_subscriptions/${id}`, { token: t.otherSiteToken, body: { active: false } }), 404, 'not_found')
    expectError(await t.call('POST', `/v1/webhook_subscriptions/${id}?action=test`, { token: t.otherSiteToken }), 404, 'not_found')
    expect((await t.call('GET', '/v1/webhook_subscriptions', { token: t.otherSiteToken })).body.data).toEqual([])
    expectError(await t.call('GET', '/v1/webhook_subscriptions', { token: null }), 401, 'unauthorized')
  })

  test('POST on an id needs a known action', async () => {
    const { body } = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'http://127.0.0.1:9/a', events: ['*'] } })
    expectError(await t.call('POST', `/v1/webhook_subscriptions/${body.data.id}`), 400, 'bad_request', 'action')
    expectError(await t.call('POST', `/v1/webhook_subscriptions/${body.data.id}?action=explode`), 400, 'bad_request', 'action')
  })

  test('rotate_secret returns a new secret and shows the grace window', async () => {
    const { body } = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'http://127.0.0.1:9/a', events: ['*'] } })
    const rotated = await t.call('POST', `/v1/api.ashx?resource=webhook_subscriptions&id=${body.data.id}&action=rotate_secret`)
    expect(rotated.status).toBe(200)
    expect(rotated.body.data.secret).toMatch(/^whsec_/)
    expect(rotated.body.data.secret).not.toBe(body.data.secret)
    expect(rotated.body.data.previous_secret_valid_until_utc).toBe('2026-11-26T12:00:00.000Z')
    t.clock.advance(86_400_000)
    expect((await t.call('GET', `/v1/webhook_subscriptions/${body.data.id}`)).body.data.previous_secret_valid_until_utc).toBeNull()
  })

  test('test ping on an inactive subscription is 409', async () => {
    const { body } = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'http://127.0.0.1:9/a', events: ['*'] } })
    await t.call('PATCH', `/v1/webhook_subscriptions/${body.data.id}`, { body: { active: false } })
    expectError(await t.call('POST', `/v1/webhook_subscriptions/${body.data.id}?action=test`), 409, 'conflict', 'id')
  })
})

describe('test ping through the real worker', () => {
  let t: WebhookTestApp
  let rx: Receiver
  beforeEach(async () => {
    t = await createWebhookTestApp()
    // Standard Webhooks rejects timestamps more than 5 minutes from now: sign with the real time.
    t.clock.set(Date.now())
    rx = startReceiver()
  })
  afterEach(async () => {
    rx.stop()
    await t.close()
  })

  test('answers delivery_id and the first attempt; both verifiers accept the request', async () => {
    const { body } = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: rx.url, events: ['handoff'] } })
    const secret = body.data.secret
    const res = await t.call('POST', `/v1/webhook_subscriptions/${body.data.id}?action=test`)
    expect(res.status).toBe(200)
    const d = res.body.data
    expect(d.delivery_id).toMatch(/^dlv_[0-9a-f]{32}$/)
    expect(d.event_id).toMatch(/^evt_[0-9a-f]{32}$/)
    expect(d.status).toBe('succeeded')
    expect(d.attempt).toMatchObject({ number: 1, status_code: 200, error: null, succeeded: true })
    const [req] = rx.received
    if (!req) throw new Error('nothing received')
    expect(JSON.parse(req.body)).toEqual({ id: d.event_id, event: 'ping', created_utc: expect.any(String) })
    expect(req.headers).toMatchObject({
      'content-type': 'application/json',
      'x-mlc-event': 'ping',
      'x-mlc-delivery': d.delivery_id,
      'webhook-id': d.event_id,
    })
    expect(req.headers['x-mlc-timestamp']).toBe(req.headers['webhook-timestamp'])
    expect(seedVerify(req.body, req.headers['x-mlc-signature'] as string, secret)).toBe(true)
    const payload = new Webhook(secret).verify(req.body, req.headers) as { id: string }
    expect(payload.id).toBe(d.event_id)
    // The same delivery, verified by the seed's file and the standardwebhooks package running in Node.
    const node = spawnSync('node', [join(import.meta.dir, '../webhooks/fixtures/verify-in-node.cjs')], {
      input: JSON.stringify({ body: req.body, headers: req.headers, secret }),
      encoding: 'utf8',
    })
    expect(node.status).toBe(0)
    expect(JSON.parse(node.stdout)).toMatchObject({ seed: true, standard: true, payloadId: d.event_id })
    // A tampered body fails both.
    expect(() => new Webhook(secret).verify(`${req.body} `, req.headers)).toThrow()
    expect(() => seedVerify(req.body.replace('ping', 'pong'), req.headers['x-mlc-signature'] as string, secret)).not.toThrow()
    expect(seedVerify(req.body.replace('ping', 'pong'), req.headers['x-mlc-signature'] as string, secret)).toBe(false)
  })

  test('a failing endpoint: the answer shows the failed attempt and the scheduled retry', async () => {
    rx.respond(() => new Response('nope', { status: 500 }))
    const { body } = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: rx.url, events: ['*'] } })
    const res = await t.call('POST', `/v1/webhook_subscriptions/${body.data.id}?action=test`)
    expect(res.body.data.status).toBe('failed')
    expect(res.body.data.attempt).toMatchObject({ status_code: 500, error: 'http', succeeded: false })
    expect(Date.parse(res.body.data.next_attempt_utc) - t.clock.now()).toBe(30_000)
  })

  test('during the rotation grace window deliveries carry both signatures; X-MLC-Signature uses the newest', async () => {
    const { body } = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: rx.url, events: ['*'] } })
    const oldSecret = body.data.secret
    const rotated = await t.call('POST', `/v1/webhook_subscriptions/${body.data.id}?action=rotate_secret`)
    const newSecret = rotated.body.data.secret
    await t.call('POST', `/v1/webhook_subscriptions/${body.data.id}?action=test`)
    const req = rx.received[0] as (typeof rx.received)[0]
    expect(req.headers['webhook-signature']?.split(' ')).toHaveLength(2)
    expect(new Webhook(newSecret).verify(req.body, req.headers)).toBeTruthy()
    expect(new Webhook(oldSecret).verify(req.body, req.headers)).toBeTruthy()
    expect(seedVerify(req.body, req.headers['x-mlc-signature'] as string, newSecret)).toBe(true)
    expect(seedVerify(req.body, req.headers['x-mlc-signature'] as string, oldSecret)).toBe(false)
    // After the window only the new secret signs.
    t.clock.advance(86_400_000 + 1000)
    await t.call('POST', `/v1/webhook_subscriptions/${body.data.id}?action=test`)
    const later = rx.received[1] as (typeof rx.received)[0]
    expect(later.headers['webhook-signature']?.split(' ')).toHaveLength(1)
    expect(() => new Webhook(oldSecret).verify(later.body, { ...later.headers, 'webhook-timestamp': later.headers['webhook-timestamp'] as string })).toThrow()
  })
})
