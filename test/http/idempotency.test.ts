/**
 * Idempotency-Key on the token API: replay (same status and body, new request id, no second
 * write or webhook), mismatch (method, path, query, body), the in-flight conflict, abandoned
 * claims, expiry and pruning, what is never stored (5xx, 429), malformed keys, scopes (sites,
 * token vs publishable key) and the survival of a key across a restart. Runs on both engines.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createApp } from '../../src/app'
import { openStore } from '../../src/db/open-store'
import { CLAIM_LEASE_MS, fingerprint, Idempotency } from '../../src/http/idempotency'
import { pruneIdempotencyKeys } from '../../src/http/idempotency-retention'
import { silentLogger } from '../../src/log'
import { createSite } from '../../src/modules/sites/service'
import { createToken } from '../../src/modules/tokens/service'
import { createTestApp, expectError, type TestApp } from '../helpers'

const DAY_MS = 86_400_000

let t: TestApp
let n = 0
/** A key no other test uses. */
const fresh = () => `key-${++n}-${crypto.randomUUID()}`
const withKey = (key: string, extra: Record<string, string> = {}) => ({ 'idempotency-key': key, ...extra })
/** A tag body no other test uses (tag names are unique per site). */
const tagBody = () => ({ name: `t${++n}`, color: '#2563eb' })

beforeAll(async () => {
  t = await createTestApp()
})
afterAll(() => t.cleanup())

async function tagNames(token = t.writeToken): Promise<string[]> {
  return (await t.call('GET', '/v1/tags', { token })).body.data.map((x: { name: string }) => x.name)
}

describe('replay', () => {
  test('the same key, method, path and body answers the first response again and writes nothing', async () => {
    const key = fresh()
    const body = tagBody()
    const first = await t.request('POST', '/v1/tags', { body, headers: withKey(key) })
    const firstText = await first.text()
    expect(first.status).toBe(201)
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    const firstId = first.headers.get('x-mlc-request-id') as string

    const again = await t.request('POST', '/v1/tags', { body, headers: withKey(key) })
    const againText = await again.text()
    const againId = again.headers.get('x-mlc-request-id') as string
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.headers.get('original-request')).toBe(firstId)
    expect(againId).not.toBe(firstId)
    // The body's request_id is the new request's (it always equals the header); the rest is byte for byte the first.
    expect(JSON.parse(againText).request_id).toBe(againId)
    expect(againText).toBe(firstText.replace(firstId, againId))
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'))
    // A replay is a request like any other: it costs a token of the bucket.
    expect(Number(again.headers.get('x-ratelimit-remaining'))).toBe(Number(first.headers.get('x-ratelimit-remaining')) - 1)
    expect((await tagNames()).filter((x) => x === body.name)).toHaveLength(1)
  })

  test('browsers may read the replay headers', async () => {
    const res = await t.request('POST', '/v1/tags', { body: tagBody(), headers: withKey(fresh()) })
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase()
    expect(exposed).toContain('idempotent-replayed')
    expect(exposed).toContain('original-request')
  })

  test('PATCH and DELETE replay too: the second DELETE answers the first 200, not a 404', async () => {
    const created = (await t.call('POST', '/v1/tags', { body: tagBody() })).body.data
    const patchKey = fresh()
    const patched = await t.call('PATCH', `/v1/tags/${created.id}`, { body: { color: '#000000' }, headers: withKey(patchKey) })
    const patchedAgain = await t.call('PATCH', `/v1/tags/${created.id}`, { body: { color: '#000000' }, headers: withKey(patchKey) })
    expect(patchedAgain.body.data).toEqual(patched.body.data)
    expect(patchedAgain.headers.get('idempotent-replayed')).toBe('true')

    const deleteKey = fresh()
    const deleted = await t.call('DELETE', `/v1/tags/${created.id}`, { headers: withKey(deleteKey) })
    expect(deleted.status).toBe(200)
    const deletedAgain = await t.call('DELETE', `/v1/tags/${created.id}`, { headers: withKey(deleteKey) })
    expect(deletedAgain.status).toBe(200)
    expect(deletedAgain.body.data).toEqual({ id: created.id, deleted: true })
    expect(deletedAgain.headers.get('idempotent-replayed')).toBe('true')
    // Without the key the resource is gone.
    expectError(await t.call('DELETE', `/v1/tags/${created.id}`), 404, 'not_found')
  })

  test('errors after the claim are stored and replayed: a validation 400 and a conflict 409', async () => {
    const badKey = fresh()
    const bad = await t.call('POST', '/v1/tags', { body: { name: '', color: '#000000' }, headers: withKey(badKey) })
    expectError(bad, 400, 'bad_request', 'name')
    const badAgain = await t.call('POST', '/v1/tags', { body: { name: '', color: '#000000' }, headers: withKey(badKey) })
    expectError(badAgain, 400, 'bad_request', 'name')
    expect(badAgain.headers.get('idempotent-replayed')).toBe('true')
    expect(badAgain.headers.get('original-request')).toBe(bad.body.error.request_id)

    const body = tagBody()
    await t.call('POST', '/v1/tags', { body })
    const dupKey = fresh()
    expectError(await t.call('POST', '/v1/tags', { body, headers: withKey(dupKey) }), 409, 'conflict', 'name')
    // The name is free again, but the key answers what it answered: the retry changes nothing.
    const id = (await t.call('GET', '/v1/tags')).body.data.find((x: { name: string }) => x.name === body.name).id
    await t.call('DELETE', `/v1/tags/${id}`)
    const dupAgain = await t.call('POST', '/v1/tags', { body, headers: withKey(dupKey) })
    expectError(dupAgain, 409, 'conflict', 'name')
    expect(dupAgain.headers.get('idempotent-replayed')).toBe('true')
    expect(await tagNames()).not.toContain(body.name)
  })

  test('a malformed JSON body answered 400 after the claim is stored too', async () => {
    const key = fresh()
    const first = await t.call('POST', '/v1/tags', { rawBody: '{"name":', headers: withKey(key, { 'content-type': 'application/json' }) })
    expectError(first, 400, 'bad_request', 'body')
    const again = await t.call('POST', '/v1/tags', { rawBody: '{"name":', headers: withKey(key, { 'content-type': 'application/json' }) })
    expectError(again, 400, 'bad_request', 'body')
    expect(again.headers.get('idempotent-replayed')).toBe('true')
  })

  test('a replayed webhook test ping enqueues no second delivery', async () => {
    const sub = (await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'https://93.184.215.14/hook', events: ['handoff'] } })).body.data
    const key = fresh()
    const ping = await t.call('POST', `/v1/webhook_subscriptions/${sub.id}?action=test`, { headers: withKey(key) })
    expect(ping.status).toBe(200)
    const again = await t.call('POST', `/v1/webhook_subscriptions/${sub.id}?action=test`, { headers: withKey(key) })
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.body.data.delivery_id).toBe(ping.body.data.delivery_id)
    const deliveries = (await t.call('GET', `/v1/webhook_deliveries?subscription_id=${sub.id}`)).body.data
    expect(deliveries.map((d: { id: string }) => d.id)).toEqual([ping.body.data.delivery_id])
  })

  test('GET ignores the header: nothing is stored or replayed', async () => {
    const key = fresh()
    const a = await t.call('GET', '/v1/tags', { headers: withKey(key) })
    const b = await t.call('GET', '/v1/tags', { headers: withKey(key) })
    expect(a.status).toBe(200)
    expect(b.headers.get('idempotent-replayed')).toBeNull()
    expect(await t.store.idempotency.get(t.site1, 'token', key)).toBeNull()
  })
})

describe('mismatch', () => {
  test('the same key with another body, path, query or method answers 422 idempotency_mismatch and runs nothing', async () => {
    const key = fresh()
    const body = tagBody()
    expect((await t.call('POST', '/v1/tags', { body, headers: withKey(key) })).status).toBe(201)
    const other = tagBody()
    const cases: [string, string, unknown][] = [
      ['POST', '/v1/tags', other],
      ['POST', '/v1/segments', body],
      ['POST', '/v1/tags?token_hint=1', body],
      ['PATCH', '/v1/tags', body],
    ]
    for (const [method, path, sent] of cases) {
      const res = await t.call(method, path, { body: sent, headers: withKey(key) })
      expectError(res, 422, 'idempotency_mismatch', 'Idempotency-Key')
      expect(res.headers.get('idempotent-replayed')).toBeNull()
    }
    expect(await tagNames()).not.toContain(other.name)
    // The key still answers its own request.
    expect((await t.call('POST', '/v1/tags', { body, headers: withKey(key) })).headers.get('idempotent-replayed')).toBe('true')
  })

  test('the body is compared as sent: the same JSON with other spacing is another request', async () => {
    const key = fresh()
    const body = tagBody()
    expect((await t.call('POST', '/v1/tags', { rawBody: JSON.stringify(body), headers: withKey(key, { 'content-type': 'application/json' }) })).status).toBe(
      201,
    )
    const spaced = await t.call('POST', '/v1/tags', { rawBody: JSON.stringify(body, null, 2), headers: withKey(key, { 'content-type': 'application/json' }) })
    expectError(spaced, 422, 'idempotency_mismatch', 'Idempotency-Key')
  })
})

describe('in flight', () => {
  test('a key whose first request is still running answers 409 conflict with Retry-After: 1; the retry after it replays', async () => {
    const key = fresh()
    const body = tagBody()
    const raw = JSON.stringify(body)
    // The first request has claimed the key and not answered yet (on another instance, say).
    await t.store.idempotency.claim({
      siteId: t.site1,
      scope: 'token',
      key,
      fingerprint: fingerprint('POST', '/v1/tags', '', raw),
      requestId: 'req_first',
      nowMs: t.clock.now(),
    })
    const res = await t.call('POST', '/v1/tags', { rawBody: raw, headers: withKey(key, { 'content-type': 'application/json' }) })
    expectError(res, 409, 'conflict', 'Idempotency-Key')
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await tagNames()).not.toContain(body.name)
    // The first one answers; a retry now gets its response.
    const stored = `{"ok":true,"data":{"id":999,"name":"${body.name}","color":"#2563eb"},"request_id":"req_first"}`
    await t.store.idempotency.complete(t.site1, 'token', key, 'req_first', { status: 201, type: 'application/json;charset=utf-8', body: stored })
    const retry = await t.request('POST', '/v1/tags', { rawBody: raw, headers: withKey(key, { 'content-type': 'application/json' }) })
    expect(retry.status).toBe(201)
    expect(retry.headers.get('original-request')).toBe('req_first')
    expect(await retry.text()).toBe(stored.replace('req_first', retry.headers.get('x-mlc-request-id') as string))
  })

  test('two concurrent requests with one key: one runs, the other waits its turn (409) or replays; one tag is written', async () => {
    const key = fresh()
    const body = tagBody()
    const [a, b] = await Promise.all([t.call('POST', '/v1/tags', { body, headers: withKey(key) }), t.call('POST', '/v1/tags', { body, headers: withKey(key) })])
    const ran = [a, b].filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null)
    expect(ran).toHaveLength(1)
    const other = ran[0] === a ? b : a
    if (other.status === 409) expect(other.headers.get('retry-after')).toBe('1')
    else expect(other.headers.get('idempotent-replayed')).toBe('true')
    expect((await tagNames()).filter((x) => x === body.name)).toHaveLength(1)
  })

  test('a claim older than the lease was abandoned by a crash: the retry runs the request', async () => {
    const key = fresh()
    const body = tagBody()
    const raw = JSON.stringify(body)
    const fp = fingerprint('POST', '/v1/tags', '', raw)
    await t.store.idempotency.claim({ siteId: t.site1, scope: 'token', key, fingerprint: fp, requestId: 'req_crashed', nowMs: t.clock.now() })
    t.clock.advance(CLAIM_LEASE_MS - 1000)
    expectError(await t.call('POST', '/v1/tags', { rawBody: raw, headers: withKey(key) }), 409, 'conflict', 'Idempotency-Key')
    t.clock.advance(2000)
    const res = await t.call('POST', '/v1/tags', { rawBody: raw, headers: withKey(key) })
    expect(res.status).toBe(201)
    expect(res.headers.get('idempotent-replayed')).toBeNull()
    expect(await tagNames()).toContain(body.name)
    const replay = await t.call('POST', '/v1/tags', { rawBody: raw, headers: withKey(key) })
    expect(replay.headers.get('original-request')).toBe(res.body.request_id)
  })
})

describe('what is not stored', () => {
  test('a 429 (the rate limit, taken before the key) is not stored: the retry once the bucket refills runs', async () => {
    const site = await createSite(t.store, t.clock, { name: 'tight', rateLimit: 3 })
    const token = (await createToken(t.store, t.clock, { siteId: site.id, scopes: 'read,write' })).token
    for (let i = 0; i < 3; i++) expect((await t.call('GET', '/v1/tags', { token })).status).toBe(200)
    const key = fresh()
    const body = tagBody()
    expectError(await t.call('POST', '/v1/tags', { body, token, headers: withKey(key) }), 429, 'rate_limited')
    expect(await t.store.idempotency.get(site.id, 'token', key)).toBeNull()
    t.clock.advance(60_000)
    const retry = await t.call('POST', '/v1/tags', { body, token, headers: withKey(key) })
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBeNull()
    expect(await tagNames(token)).toEqual([body.name])
  })

  test('a claimed request answered 5xx or 429 drops its claim (a retry runs); a 4xx is kept', async () => {
    const idem = new Idempotency({ store: t.store, clock: t.clock, logger: silentLogger, ttlSeconds: 3600 })
    const requestFor = (key: string) => new Request('http://localhost/v1/tags', { method: 'POST', headers: withKey(key) })
    for (const [status, kept] of [
      [500, false],
      [503, false],
      [429, false],
      [404, true],
      [201, true],
    ] as const) {
      const key = fresh()
      const req = requestFor(key)
      await idem.check(req, { 'x-mlc-request-id': `req_${status}` }, t.site1, 'token')
      expect((await t.store.idempotency.get(t.site1, 'token', key))?.response_status).toBeNull()
      const sent = await idem.finish(req, new Response(`{"status":${status}}`, { status }))
      expect(sent.status).toBe(status)
      expect(await sent.text()).toBe(`{"status":${status}}`)
      const row = await t.store.idempotency.get(t.site1, 'token', key)
      if (kept) expect(row).toMatchObject({ response_status: status, response_body: `{"status":${status}}`, request_id: `req_${status}` })
      else {
        expect(row).toBeNull()
        // The retry claims the key again instead of answering a replay or a conflict.
        const retry = requestFor(key)
        await idem.check(retry, { 'x-mlc-request-id': `req_${status}_retry` }, t.site1, 'token')
        expect((await t.store.idempotency.get(t.site1, 'token', key))?.request_id).toBe(`req_${status}_retry`)
        await idem.abandon(retry)
        expect(await t.store.idempotency.get(t.site1, 'token', key)).toBeNull()
      }
    }
  })
})

describe('malformed keys and order of checks', () => {
  const bad: [string, string][] = [
    ['empty', ''],
    ['256 characters', 'k'.repeat(256)],
    ['a tab', 'a\tb'],
    ['a non-ASCII character', 'cl\u00e9'],
  ]
  for (const [label, key] of bad) {
    test(`a key with ${label} is 400 bad_request naming Idempotency-Key, and nothing is written`, async () => {
      const body = tagBody()
      expectError(await t.call('POST', '/v1/tags', { body, headers: withKey(key) }), 400, 'bad_request', 'Idempotency-Key')
      expect(await tagNames()).not.toContain(body.name)
    })
  }

  test('255 printable characters, spaces included, make a key', async () => {
    const key = `${'~ '.repeat(127)}!`
    expect(key).toHaveLength(255)
    expect((await t.call('POST', '/v1/tags', { body: tagBody(), headers: withKey(key) })).status).toBe(201)
  })

  test('authentication and scope come first: 401 and 403 claim nothing', async () => {
    const key = fresh()
    const body = tagBody()
    expectError(await t.call('POST', '/v1/tags', { body, token: null, headers: withKey('') }), 401, 'unauthorized')
    expectError(await t.call('POST', '/v1/tags', { body, token: t.readToken, headers: withKey(key) }), 403, 'forbidden')
    expect(await t.store.idempotency.get(t.site1, 'token', key)).toBeNull()
    const res = await t.call('POST', '/v1/tags', { body, headers: withKey(key) })
    expect(res.status).toBe(201)
    expect(res.headers.get('idempotent-replayed')).toBeNull()
  })
})

describe('scopes', () => {
  test("another site's request with the same key and body is its own: it runs", async () => {
    const key = fresh()
    const body = tagBody()
    const mine = await t.call('POST', '/v1/tags', { body, headers: withKey(key) })
    const theirs = await t.call('POST', '/v1/tags', { body, headers: withKey(key), token: t.otherSiteToken })
    expect(theirs.status).toBe(201)
    expect(theirs.headers.get('idempotent-replayed')).toBeNull()
    expect(theirs.body.data.id).not.toBe(mine.body.data.id)
    expect(await tagNames(t.otherSiteToken)).toContain(body.name)
  })

  test('a publishable key and an API token of one site do not share keys', async () => {
    const site = await t.store.sites.byId(t.site1)
    const key = fresh()
    const event = { anonymous_id: `anon-${n}`, name: 'signed_up', event_id: fresh() }
    const byPk = await t.call('POST', '/v1/track', { body: event, token: site?.publishable_key, headers: withKey(key) })
    expect(byPk.status).toBeLessThan(300)
    const byToken = await t.call('POST', '/v1/track', { body: event, headers: withKey(key) })
    expect(byToken.headers.get('idempotent-replayed')).toBeNull()
    const byPkAgain = await t.call('POST', '/v1/track', { body: event, token: site?.publishable_key, headers: withKey(key) })
    expect(byPkAgain.headers.get('idempotent-replayed')).toBe('true')
  })
})

describe('erasure', () => {
  test("a visitor's erasure deletes the stored responses that carry it: a retry runs again instead of replaying them", async () => {
    const key = fresh()
    const erased = { key: `erase-${n}`, name: 'Erin Erased', email: 'erin@example.com' }
    expect((await t.request('POST', '/v1/visitors', { body: erased, headers: withKey(key) })).status).toBe(201)
    expect((await t.store.idempotency.get(t.site1, 'token', key))?.response_body).toContain('erin@example.com')
    expect((await t.call('DELETE', `/v1/visitors/${erased.key}`)).status).toBe(200)
    expect(await t.store.idempotency.get(t.site1, 'token', key)).toBeNull()
    const retried = await t.request('POST', '/v1/visitors', { body: erased, headers: withKey(key) })
    expect(retried.status).toBe(201)
    expect(retried.headers.get('idempotent-replayed')).toBeNull()
  })

  test("erasure leaves the other visitors' stored answers replayable", async () => {
    const [a, b] = [fresh(), fresh()]
    const gone = { key: `gone-${n}`, name: 'Gone' }
    const stays = { key: `stays-${n}`, name: 'Stays' }
    await t.request('POST', '/v1/visitors', { body: gone, headers: withKey(a) })
    await t.request('POST', '/v1/visitors', { body: stays, headers: withKey(b) })
    expect((await t.call('DELETE', `/v1/visitors/${gone.key}`)).status).toBe(200)
    const replay = await t.request('POST', '/v1/visitors', { body: stays, headers: withKey(b) })
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
  })
})

describe('expiry', () => {
  test('past MLC_IDEMPOTENCY_TTL the key is free again, and the prune job deletes what expired', async () => {
    const app = await createTestApp({ MLC_IDEMPOTENCY_TTL: '3600' })
    try {
      const key = fresh()
      const body = tagBody()
      expect((await app.call('POST', '/v1/tags', { body, headers: withKey(key) })).status).toBe(201)
      app.clock.advance(3600_000)
      // Exactly the TTL: still kept.
      expect((await app.call('POST', '/v1/tags', { body, headers: withKey(key) })).headers.get('idempotent-replayed')).toBe('true')
      app.clock.advance(1000)
      // Runs again: the tag exists now, so this time the answer is the 409 of a duplicate name.
      const again = await app.call('POST', '/v1/tags', { body, headers: withKey(key) })
      expectError(again, 409, 'conflict', 'name')
      expect(again.headers.get('idempotent-replayed')).toBeNull()

      // `key` was claimed again just now; a younger key comes 10 s later.
      app.clock.advance(10_000)
      const young = fresh()
      await app.call('POST', '/v1/tags', { body: tagBody(), headers: withKey(young) })
      expect(await pruneIdempotencyKeys(app.store, app.clock, 3600)).toBe(0)
      // Past the TTL of `key`, not of `young`.
      app.clock.advance(3600_000 - 10_000 + 1000)
      expect(await pruneIdempotencyKeys(app.store, app.clock, 3600)).toBe(1)
      expect(await app.store.idempotency.get(app.site1, 'token', key)).toBeNull()
      expect(await app.store.idempotency.get(app.site1, 'token', young)).not.toBeNull()
      app.clock.advance(DAY_MS)
      expect(await pruneIdempotencyKeys(app.store, app.clock, 3600)).toBe(1)
      expect(await app.store.idempotency.get(app.site1, 'token', young)).toBeNull()
    } finally {
      await app.cleanup()
    }
  })
})

describe('restart', () => {
  test('a stored response survives closing and reopening the database', async () => {
    const app = await createTestApp()
    try {
      const key = fresh()
      const body = tagBody()
      const first = await app.request('POST', '/v1/tags', { body, headers: withKey(key) })
      const firstText = await first.text()
      await app.store.close()
      const reopened = await openStore(app.config)
      try {
        const next = createApp({ config: app.config, store: reopened, clock: app.clock, logger: silentLogger })
        const req = new Request('http://localhost/v1/tags', {
          method: 'POST',
          headers: { authorization: `Bearer ${app.writeToken}`, 'content-type': 'application/json', ...withKey(key) },
          body: JSON.stringify(body),
        })
        const again = await next.handle(req)
        const againId = again.headers.get('x-mlc-request-id') as string
        expect(again.status).toBe(201)
        expect(again.headers.get('idempotent-replayed')).toBe('true')
        expect(await again.text()).toBe(firstText.replace(first.headers.get('x-mlc-request-id') as string, againId))
        expect((await reopened.tags.list(app.site1)).filter((x) => x.name === body.name)).toHaveLength(1)
      } finally {
        await reopened.close()
      }
    } finally {
      await app.cleanup()
    }
  })
})
