/**
 * Conditional reads of the token API: a strong ETag on every 200 to a GET or HEAD, the same for
 * the same data whatever the request id; If-None-Match (RFC 9110: lists, `*`, weak tags, malformed
 * values ignored) answers 304 without a body, with the request id, CORS and rate-limit headers,
 * and gives its request back to the bucket (in process and in Redis); an empty bucket is still a
 * 429; the legacy URL form behaves the same; writes, errors and non-API GETs are left alone.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type App, createApp } from '../../src/app'
import { entityTagOf, ifNoneMatchHits } from '../../src/http/conditional-get'
import { silentLogger } from '../../src/log'
import { createSite } from '../../src/modules/sites/service'
import { createToken } from '../../src/modules/tokens/service'
import { RedisRateLimiter } from '../../src/shared/rate-limit'
import { openRedis, type SharedRedis } from '../../src/shared/redis'
import { siteKeyOf, Visitor } from '../chat/harness'
import { createTestApp, expectError, type TestApp } from '../helpers'
import { TEST_REDIS_URL, testKeyPrefix } from '../shared/redis-server'

const RATE_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit-policy', 'ratelimit']
const STRONG_TAG = /^"[0-9a-f]{16}"$/

describe('If-None-Match parsing (RFC 9110 13.1.2)', () => {
  const tag = '"0123456789abcdef"'
  const cases: [string, boolean][] = [
    [tag, true],
    ['"0123456789abcdee"', false],
    [`W/${tag}`, true],
    ['*', true],
    [' * ', true],
    [`"a", ${tag}`, true],
    [`"a",${tag},"b"`, true],
    [`"a", W/"b" ,\t${tag}`, true],
    [`, ,${tag},`, true],
    ['"a", "b"', false],
    ['', false],
    [' , ', false],
    ['""', false],
    // Malformed: ignored as a whole, even when the current tag is in it.
    ['0123456789abcdef', false],
    [`"0123456789abcdef`, false],
    [`w/${tag}`, false],
    [`${tag}, junk`, false],
    [`${tag} "a"`, false],
    [`*, ${tag}`, false],
    [`${tag}, *`, false],
    ['"0123456789 abcdef"', false],
    [`W/ ${tag}`, false],
  ]
  for (const [field, hit] of cases) {
    test(`${JSON.stringify(field)} ${hit ? 'matches' : 'does not match'}`, () => {
      expect(ifNoneMatchHits(field, tag)).toBe(hit)
    })
  }

  test('obs-text is an entity-tag character: such a tag is well-formed, and compared exactly', () => {
    expect(ifNoneMatchHits('"caf\u00e9", "x"', '"x"')).toBe(true)
    expect(ifNoneMatchHits('"caf\u00e9"', '"cafe"')).toBe(false)
  })
})

describe('the tag of an envelope', () => {
  test('leaves the request id out, wherever it sits, and changes with everything else', () => {
    const last = (rid: string) => JSON.stringify({ ok: true, data: [{ id: 1, name: 'vip' }], request_id: rid })
    expect(entityTagOf(last('a1'), 'a1')).toMatch(STRONG_TAG)
    expect(entityTagOf(last('a1'), 'a1')).toBe(entityTagOf(last('b2b2'), 'b2b2'))
    // GET messages puts has_more after the id.
    const middle = (rid: string, more: boolean) => JSON.stringify({ ok: true, data: [], request_id: rid, has_more: more })
    expect(entityTagOf(middle('a1', false), 'a1')).toBe(entityTagOf(middle('b2', false), 'b2'))
    expect(entityTagOf(middle('a1', false), 'a1')).not.toBe(entityTagOf(middle('a1', true), 'a1'))
    const other = JSON.stringify({ ok: true, data: [{ id: 1, name: 'vip2' }], request_id: 'a1' })
    expect(entityTagOf(other, 'a1')).not.toBe(entityTagOf(last('a1'), 'a1'))
  })
})

/** Conditional reads through one app (in-process or Redis buckets): the same assertions for both. */
function conditionalReads(name: string, setup: () => Promise<{ t: TestApp; app: App; close(): Promise<void> }>) {
  describe(name, () => {
    let t: TestApp
    let app: App
    let close: () => Promise<void>
    beforeAll(async () => {
      ;({ t, app, close } = await setup())
    })
    afterAll(() => close())

    /** One request to the app under test, with the write token unless `token` says otherwise. */
    const send = (method: string, path: string, opts: { token?: string; headers?: Record<string, string>; body?: unknown } = {}) => {
      const headers: Record<string, string> = { authorization: `Bearer ${opts.token ?? t.writeToken}`, ...opts.headers }
      if (opts.body !== undefined) headers['content-type'] = 'application/json'
      const body = opts.body === undefined ? undefined : JSON.stringify(opts.body)
      return app.handle(new Request(`http://localhost${path}`, { method, headers, body }))
    }
    /** A token of its own (a bucket of its own) on a site whose limit is `limit`. */
    const freshToken = async (limit?: number) => {
      const site = limit === undefined ? t.site1 : (await createSite(t.store, t.clock, { name: `limited ${limit}`, rateLimit: limit })).id
      return (await createToken(t.store, t.clock, { siteId: site, scopes: 'read,write' })).token
    }

    test('a GET carries a strong ETag, the same on the next GET (another request id) and on HEAD', async () => {
      await send('POST', '/v1/tags', { body: { name: `stable-${name}` } })
      const a = await send('GET', '/v1/tags')
      const b = await send('GET', '/v1/tags')
      expect(a.status).toBe(200)
      expect(a.headers.get('etag')).toMatch(STRONG_TAG)
      expect(b.headers.get('etag')).toBe(a.headers.get('etag') as string)
      const [ja, jb] = [await a.json(), await b.json()]
      expect(ja.request_id).not.toBe(jb.request_id)
      expect(ja).toEqual({ ...jb, request_id: ja.request_id })
      expect(a.headers.get('content-type')).toBe('application/json;charset=utf-8')
      const head = await send('HEAD', '/v1/tags')
      expect(head.status).toBe(200)
      expect(head.headers.get('etag')).toBe(a.headers.get('etag') as string)
      expect(await head.text()).toBe('')
    })

    test('If-None-Match with the current tag: 304, no body, with the request id, CORS, ETag and rate-limit headers', async () => {
      const token = await freshToken()
      const ok = await send('GET', '/v1/tags', { token })
      const etag = ok.headers.get('etag') as string
      const res = await send('GET', '/v1/tags', { token, headers: { 'if-none-match': etag, origin: 'https://app.example.com' } })
      expect(res.status).toBe(304)
      expect(await res.text()).toBe('')
      expect(res.headers.get('etag')).toBe(etag)
      expect(res.headers.get('content-type')).toBeNull()
      expect(res.headers.get('x-mlc-request-id')).toMatch(/^[0-9a-f]{32}$/)
      expect(res.headers.get('x-mlc-request-id')).not.toBe(ok.headers.get('x-mlc-request-id') as string)
      expect(res.headers.get('access-control-allow-origin')).toBe('*')
      expect(res.headers.get('access-control-expose-headers')).toContain('ETag')
      for (const h of RATE_HEADERS) expect(`${h}: ${res.headers.get(h)}`).toBe(`${h}: ${ok.headers.get(h)}`)
    })

    test('a 304 costs no request: X-RateLimit-Remaining stays where the last 200 left it', async () => {
      const token = await freshToken()
      const first = await send('GET', '/v1/tags', { token })
      const etag = first.headers.get('etag') as string
      expect(first.headers.get('x-ratelimit-remaining')).toBe('59')
      for (let i = 0; i < 3; i++) {
        const nm = await send('GET', '/v1/tags', { token, headers: { 'if-none-match': etag } })
        expect(nm.status).toBe(304)
        expect(nm.headers.get('x-ratelimit-remaining')).toBe('59')
        expect(nm.headers.get('ratelimit')).toBe('"plan";r=59;t=1')
      }
      const head = await send('HEAD', '/v1/tags', { token, headers: { 'if-none-match': etag } })
      expect(head.status).toBe(304)
      expect(head.headers.get('x-ratelimit-remaining')).toBe('59')
      // Elysia would say Content-Length: 0 here; a 304 must not claim an empty representation.
      expect(head.headers.get('content-length')).toBeNull()
      const next = await send('GET', '/v1/tags', { token })
      expect(next.status).toBe(200)
      expect(next.headers.get('x-ratelimit-remaining')).toBe('58')
    })

    test('a write changes the tag: the old one answers 200 with the new representation', async () => {
      const created = await (await send('POST', '/v1/tags', { body: { name: `edit-${name}` } })).json()
      const path = `/v1/tags/${created.data.id}`
      const before = (await send('GET', path)).headers.get('etag') as string
      const listBefore = (await send('GET', '/v1/tags')).headers.get('etag') as string
      expect((await send('GET', path, { headers: { 'if-none-match': before } })).status).toBe(304)
      expect((await send('PATCH', path, { body: { color: '#123456' } })).status).toBe(200)
      const after = await send('GET', path, { headers: { 'if-none-match': before } })
      expect(after.status).toBe(200)
      expect((await after.json()).data.color).toBe('#123456')
      expect(after.headers.get('etag')).toMatch(STRONG_TAG)
      expect(after.headers.get('etag')).not.toBe(before)
      const list = await send('GET', '/v1/tags', { headers: { 'if-none-match': listBefore } })
      expect(list.status).toBe(200)
      expect(list.headers.get('etag')).not.toBe(listBefore)
    })

    test('`*`, lists and weak tags match; other tags and malformed values answer 200 in full', async () => {
      const etag = (await send('GET', '/v1/tags')).headers.get('etag') as string
      const cases: [string, number][] = [
        ['*', 304],
        [`"nope", ${etag}`, 304],
        [`W/${etag}`, 304],
        [`W/"nope", W/${etag}`, 304],
        ['"nope", W/"other"', 200],
        [etag.slice(1, -1), 200],
        [`${etag}, not-a-tag`, 200],
        [`*, ${etag}`, 200],
        [`w/${etag}`, 200],
        ['', 200],
      ]
      for (const [field, status] of cases) {
        const res = await send('GET', '/v1/tags', { headers: { 'if-none-match': field } })
        expect(`${field} -> ${res.status}`).toBe(`${field} -> ${status}`)
        if (status === 200) {
          expect(res.headers.get('etag')).toBe(etag)
          expect((await res.json()).ok).toBe(true)
        }
      }
    })

    test('an empty bucket answers 429, not 304, and a 429 gives nothing back', async () => {
      const token = await freshToken(3)
      const etag = (await send('GET', '/v1/tags', { token })).headers.get('etag') as string
      await send('GET', '/v1/tags', { token })
      await send('GET', '/v1/tags', { token })
      const limited = await send('GET', '/v1/tags', { token, headers: { 'if-none-match': etag } })
      expectError({ status: limited.status, headers: limited.headers, body: await limited.json() }, 429, 'rate_limited')
      expect(limited.headers.get('x-ratelimit-remaining')).toBe('0')
      expect(limited.headers.get('retry-after')).toBe('20')
      expect((await send('GET', '/v1/tags', { token })).status).toBe(429)
    })

    test('parallel conditional reads leave the bucket exactly where it was: each 304 returns its own take, no more', async () => {
      const token = await freshToken(5)
      const etag = (await send('GET', '/v1/tags', { token })).headers.get('etag') as string
      expect((await send('GET', '/v1/tags', { token })).headers.get('x-ratelimit-remaining')).toBe('3')
      const burst = await Promise.all(Array.from({ length: 8 }, () => send('GET', '/v1/tags', { token, headers: { 'if-none-match': etag } })))
      const statuses = burst.map((r) => r.status)
      expect(statuses.filter((s) => s !== 304 && s !== 429)).toEqual([])
      expect(statuses.filter((s) => s === 304).length).toBeGreaterThanOrEqual(3)
      const next = await send('GET', '/v1/tags', { token })
      expect(next.headers.get('x-ratelimit-remaining')).toBe('2')
    })

    test('the legacy form /v1/api.ashx?resource=tags answers the same tags and 304s', async () => {
      const canonical = await send('GET', '/v1/tags')
      const etag = canonical.headers.get('etag') as string
      const legacy = await send('GET', '/v1/api.ashx?resource=tags')
      expect(legacy.status).toBe(200)
      expect(legacy.headers.get('etag')).toBe(etag)
      const nm = await send('GET', '/v1/api.ashx?resource=tags', { headers: { 'if-none-match': etag } })
      expect(nm.status).toBe(304)
      expect(await nm.text()).toBe('')
      const id = (await canonical.json()).data[0].id
      const one = await send('GET', `/v1/tags/${id}`)
      const oneLegacy = await send('GET', `/v1/api.ashx?resource=tags&id=${id}`, { headers: { 'if-none-match': one.headers.get('etag') as string } })
      expect(oneLegacy.status).toBe(304)
    })
  })
}

conditionalReads('in-process buckets', async () => {
  const t = await createTestApp()
  return { t, app: t.app, close: () => t.cleanup() }
})

describe.skipIf(!TEST_REDIS_URL)('on the Redis limiter', () => {
  conditionalReads('Redis buckets', async () => {
    const t = await createTestApp({ MLC_REDIS_URL: TEST_REDIS_URL, MLC_REDIS_KEY_PREFIX: testKeyPrefix('conditional-get') })
    const redis: SharedRedis = await openRedis(t.config)
    const app = createApp({ config: t.config, store: t.store, clock: t.clock, logger: silentLogger, limiter: new RedisRateLimiter(redis, t.clock) })
    return {
      t,
      app,
      async close() {
        await redis.close()
        await t.cleanup()
      },
    }
  })
})

describe('what conditional reads leave alone', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp()
  })
  afterAll(() => t.cleanup())

  test('writes carry no ETag and ignore If-None-Match', async () => {
    const created = await t.request('POST', '/v1/tags', { body: { name: 'write' }, headers: { 'if-none-match': '*' } })
    expect(created.status).toBe(201)
    expect(created.headers.get('etag')).toBeNull()
    const id = (await created.json()).data.id
    const patched = await t.request('PATCH', `/v1/tags/${id}`, { body: { name: 'write2' }, headers: { 'if-none-match': '*' } })
    expect(patched.status).toBe(200)
    expect(patched.headers.get('etag')).toBeNull()
    expect((await patched.json()).data.name).toBe('write2')
  })

  test('errors carry no ETag and are not turned into 304s', async () => {
    const missing = await t.request('GET', '/v1/tags/999999', { headers: { 'if-none-match': '*' } })
    expect(missing.status).toBe(404)
    expect(missing.headers.get('etag')).toBeNull()
    const unauth = await t.request('GET', '/v1/tags', { token: 'mlc_nope', headers: { 'if-none-match': '*' } })
    expect(unauth.status).toBe(401)
    expect(unauth.headers.get('etag')).toBeNull()
  })

  test("another site's token gets its own representation: this site's tag is stale there", async () => {
    await t.call('POST', '/v1/tags', { body: { name: 'site-one-only' } })
    const mine = (await t.request('GET', '/v1/tags')).headers.get('etag') as string
    const theirs = await t.request('GET', '/v1/tags', { token: t.otherSiteToken, headers: { 'if-none-match': mine } })
    expect(theirs.status).toBe(200)
    expect(theirs.headers.get('etag')).not.toBe(mine)
  })

  test('a 304 still counts as a request of the token (whoami request_count, last used); only the rate limit gives it back', async () => {
    const etag = (await t.request('GET', '/v1/tags', { token: t.readToken })).headers.get('etag') as string
    const before = (await t.call('GET', '/v1/whoami', { token: t.readToken })).body.data.request_count
    for (let i = 0; i < 2; i++) expect((await t.request('GET', '/v1/tags', { token: t.readToken, headers: { 'if-none-match': etag } })).status).toBe(304)
    const after = (await t.call('GET', '/v1/whoami', { token: t.readToken })).body.data.request_count
    expect(after).toBe(before + 3)
  })

  test('paginated lists: each page has its own tag, stable while the data is', async () => {
    for (const title of ['one', 'two']) {
      await t.call('POST', '/v1/kb_articles', { body: { title: `Page ${title}`, body: `Article ${title} body text.` } })
    }
    const p1 = await t.call('GET', '/v1/kb_articles?limit=1')
    expect(p1.body.has_more).toBe(true)
    const p2 = await t.call('GET', `/v1/kb_articles?limit=1&cursor=${encodeURIComponent(p1.body.next_cursor)}`)
    expect(p1.headers.get('etag')).toMatch(STRONG_TAG)
    expect(p2.headers.get('etag')).toMatch(STRONG_TAG)
    expect(p2.headers.get('etag')).not.toBe(p1.headers.get('etag') as string)
    const again = await t.request('GET', '/v1/kb_articles?limit=1', { headers: { 'if-none-match': p1.headers.get('etag') as string } })
    expect(again.status).toBe(304)
  })

  test('GET messages (request_id before has_more): stable tag, changed by an agent reply', async () => {
    const v = new Visitor(t, await siteKeyOf(t, t.site1), { anon_id: 'anon-etag-1' })
    const sid = await v.open()
    const path = `/v1/messages?session_id=${sid}`
    const a = await t.request('GET', path)
    const etag = a.headers.get('etag') as string
    expect(etag).toMatch(STRONG_TAG)
    expect((await t.request('GET', path, { headers: { 'if-none-match': etag } })).status).toBe(304)
    await t.call('POST', '/v1/messages', { body: { session_id: sid, text: 'Hi, how can I help?' } })
    const b = await t.request('GET', path, { headers: { 'if-none-match': etag } })
    expect(b.status).toBe(200)
    expect(b.headers.get('etag')).not.toBe(etag)
  })

  test('GETs outside the token API are left alone: /healthz and the OpenAPI document get no ETag', async () => {
    // (The SDK, widget and dashboard assets keep their own content-hash ETags: test/modules/assets.test.ts.)
    for (const path of ['/healthz', '/v1/openapi.json']) {
      const res = await t.request('GET', path, { token: null, headers: { 'if-none-match': '*' } })
      expect(`${path}: ${res.status} ${res.headers.get('etag')}`).toBe(`${path}: 200 null`)
    }
  })

  test('a browser may send If-None-Match itself: the preflight allows it', async () => {
    const pre = await t.request('OPTIONS', '/v1/tags', {
      token: null,
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization, if-none-match' },
    })
    expect(pre.status).toBe(204)
    const allowed = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/)
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'if-none-match']))
  })
})
