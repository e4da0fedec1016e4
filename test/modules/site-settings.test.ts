/**
 * site_settings and the publishable key on visitors/track: identity verification with HS256 JWTs
 * (jose), secret rotation, the per-visitor bucket, and what a pk_ caller may not do.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { SignJWT } from 'jose'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
let pk: string
beforeEach(async () => {
  t = await createTestApp()
  pk = (await t.store.sites.byId(t.site1))?.publishable_key as string
})
afterEach(() => t.cleanup())

/** Signs an identity token as a site's backend would. */
async function identityToken(secret: string, sub: string, opts: { expSeconds?: number | null; alg?: 'HS256' | 'HS512'; nowMs?: number } = {}): Promise<string> {
  const now = Math.floor((opts.nowMs ?? t.clock.now()) / 1000)
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: opts.alg ?? 'HS256' })
    .setSubject(sub)
    .setIssuedAt(now)
  if (opts.expSeconds !== null) jwt.setExpirationTime(now + (opts.expSeconds ?? 300))
  return jwt.sign(new TextEncoder().encode(secret))
}

async function requireIdentity(): Promise<string> {
  const r = await t.call('PATCH', '/v1/api.ashx?resource=site_settings', { body: { identity_required: true } })
  expect(r.status).toBe(200)
  return r.body.data.identity_secret as string
}

describe('site_settings', () => {
  test('GET shows identity_required and the publishable key; PATCH on creates a secret shown once', async () => {
    const g = await t.call('GET', '/v1/site_settings', { token: t.readToken })
    expect(g.body.data).toEqual({ identity_required: false, identity_secret_set: false, publishable_key: pk })
    const p = await t.call('PATCH', '/v1/site_settings', { body: { identity_required: true } })
    expect(p.body.data).toMatchObject({ identity_required: true, identity_secret_set: true })
    expect(p.body.data.identity_secret).toMatch(/^mlcid_[A-Za-z0-9_-]{43}$/)
    const again = await t.call('PATCH', '/v1/site_settings', { body: { identity_required: true } })
    expect(again.body.data).not.toHaveProperty('identity_secret')
    expect((await t.call('GET', '/v1/site_settings')).body.data).not.toHaveProperty('identity_secret')
    const off = await t.call('PATCH', '/v1/site_settings', { body: { identity_required: false } })
    expect(off.body.data.identity_required).toBe(false)
  })

  test('rotate_identity_secret returns a new secret; other actions, read tokens and pk_ keys are refused', async () => {
    const r1 = await t.call('POST', '/v1/api.ashx?resource=site_settings&action=rotate_identity_secret')
    const r2 = await t.call('POST', '/v1/site_settings?action=rotate_identity_secret')
    expect(r1.body.data.identity_secret).not.toBe(r2.body.data.identity_secret)
    expectError(await t.call('POST', '/v1/site_settings?action=explode'), 400, 'bad_request', 'action')
    expectError(await t.call('POST', '/v1/site_settings'), 400, 'bad_request', 'action')
    expectError(await t.call('POST', '/v1/site_settings?action=rotate_identity_secret', { token: t.readToken }), 403, 'forbidden')
    expectError(await t.call('PATCH', '/v1/site_settings', { token: t.readToken, body: { identity_required: true } }), 403, 'forbidden')
    expectError(await t.call('GET', '/v1/site_settings', { token: pk }), 403, 'forbidden')
    expectError(await t.call('PATCH', '/v1/site_settings', { body: { identity_required: 'yes' } }), 400, 'bad_request', 'identity_required')
  })

  test("settings are per site: another site's token changes only its own", async () => {
    await t.call('PATCH', '/v1/site_settings', { token: t.otherSiteToken, body: { identity_required: true } })
    expect((await t.call('GET', '/v1/site_settings')).body.data.identity_required).toBe(false)
  })
})

describe('publishable key on visitors and track', () => {
  test('pk_ may identify and track, receives no profile back, and may not read or erase', async () => {
    await t.call('POST', '/v1/visitors', { body: { key: 'u_1', email: 'private@example.com', plan: 'pro' } })
    const v = await t.call('POST', '/v1/visitors', { token: pk, body: { key: 'u_1', theme: 'dark' } })
    expect(v.status).toBe(200)
    expect(v.body.data).toEqual({ key: 'u_1', accepted: true })
    const e = await t.call('POST', '/v1/track', { token: pk, body: { key: 'u_1', name: 'opened_widget', event_id: 'sdk-1' } })
    expect(e.status).toBe(201)
    expectError(await t.call('GET', '/v1/visitors?key=u_1', { token: pk }), 403, 'forbidden')
    expectError(await t.call('DELETE', '/v1/visitors?key=u_1', { token: pk }), 403, 'forbidden')
    expectError(await t.call('GET', '/v1/segments', { token: pk }), 403, 'forbidden')
    expectError(await t.call('POST', '/v1/conversation_starters', { token: pk, body: { prompt: 'x' } }), 403, 'forbidden')
    const stored = await t.call('GET', '/v1/visitors?key=u_1')
    expect(stored.body.data).toMatchObject({ email: 'private@example.com', attributes: { plan: 'pro', theme: 'dark' }, event_count: 1 })
  })

  test('on a site requiring identity, a claimed key needs a valid token (body field or header); 401 says why', async () => {
    const secret = await requireIdentity()
    const cases: [string, Record<string, unknown>, Record<string, string>, RegExp][] = [
      ['no token', { key: 'u_42' }, {}, /no identity token/],
      ['garbage token', { key: 'u_42', identity_token: 'not.a.jwt' }, {}, /not a valid JWT/],
      ['wrong secret', { key: 'u_42', identity_token: await identityToken('mlcid_wrong', 'u_42') }, {}, /signature/],
      ['another visitor', { key: 'u_42', identity_token: await identityToken(secret, 'u_43') }, {}, /sub does not match/],
      ['expired', { key: 'u_42', identity_token: await identityToken(secret, 'u_42', { nowMs: t.clock.now() - 3_600_000, expSeconds: 60 }) }, {}, /expired/],
      ['no exp', { key: 'u_42', identity_token: await identityToken(secret, 'u_42', { expSeconds: null }) }, {}, /exp/],
      ['HS512', { key: 'u_42', identity_token: await identityToken(secret, 'u_42', { alg: 'HS512' }) }, {}, /HS256/],
      ['user_id alias without token', { user_id: 'u_42' }, {}, /no identity token/],
    ]
    for (const [label, body, headers, message] of cases) {
      const r = await t.call('POST', '/v1/visitors', { token: pk, body, headers })
      expectError(r, 401, 'unauthorized')
      expect({ label, message: r.body.error.message }).toEqual({ label, message: expect.stringMatching(message) })
    }
    expectError(await t.call('POST', '/v1/track', { token: pk, body: { key: 'u_42', name: 'x' } }), 401, 'unauthorized')
    expectError(await t.call('GET', '/v1/visitors?key=u_42'), 404, 'not_found', 'key')

    const good = await identityToken(secret, 'u_42')
    expect((await t.call('POST', '/v1/visitors', { token: pk, body: { key: 'u_42', identity_token: good } })).status).toBe(201)
    expect((await t.call('POST', '/v1/track', { token: pk, body: { key: 'u_42', name: 'x' }, headers: { 'X-MLC-Identity-Token': good } })).status).toBe(201)
    const batch = await t.call('POST', '/v1/track', {
      token: pk,
      body: {
        identity_token: good,
        events: [
          { key: 'u_42', name: 'a' },
          { key: 'u_42', name: 'b' },
        ],
      },
    })
    expect(batch.body.data.stored).toBe(2)
    expectError(
      await t.call('POST', '/v1/track', {
        token: pk,
        body: {
          identity_token: good,
          events: [
            { key: 'u_42', name: 'a' },
            { key: 'u_99', name: 'b' },
          ],
        },
      }),
      401,
      'unauthorized',
    )
  })

  test('a page may send the identity token header: the CORS preflight allows it', async () => {
    const res = await t.request('OPTIONS', '/v1/visitors', {
      token: null,
      headers: { origin: 'http://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-mlc-identity-token' },
    })
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/)
    expect(allowed).toContain('x-mlc-identity-token')
  })

  test('anonymous visitors need no token; linking one to a key does', async () => {
    const secret = await requireIdentity()
    expect((await t.call('POST', '/v1/track', { token: pk, body: { anonymous_id: 'anon-1', name: 'viewed_home' } })).status).toBe(201)
    expect((await t.call('POST', '/v1/visitors', { token: pk, body: { anonymous_id: 'anon-1', theme: 'dark' } })).status).toBe(200)
    expectError(await t.call('POST', '/v1/visitors', { token: pk, body: { anonymous_id: 'anon-1', key: 'u_7' } }), 401, 'unauthorized')
    const linked = await t.call('POST', '/v1/visitors', {
      token: pk,
      body: { anonymous_id: 'anon-1', key: 'u_7', identity_token: await identityToken(secret, 'u_7') },
    })
    expect(linked.status).toBe(201)
    const v = await t.call('GET', '/v1/visitors?key=u_7')
    expect(v.body.data).toMatchObject({ event_count: 1, attributes: { theme: 'dark' } })
  })

  test('secret tokens (mlc_) are trusted: no identity token needed', async () => {
    await requireIdentity()
    expect((await t.call('POST', '/v1/visitors', { body: { key: 'backend' } })).status).toBe(201)
    expect((await t.call('POST', '/v1/track', { body: { key: 'backend', name: 'x' } })).status).toBe(201)
  })

  test('rotation: tokens signed with the old secret stop verifying', async () => {
    const old = await requireIdentity()
    const token = await identityToken(old, 'u_r')
    expect((await t.call('POST', '/v1/visitors', { token: pk, body: { key: 'u_r', identity_token: token } })).status).toBe(201)
    const rotated = await t.call('POST', '/v1/site_settings?action=rotate_identity_secret')
    expectError(await t.call('POST', '/v1/visitors', { token: pk, body: { key: 'u_r', identity_token: token } }), 401, 'unauthorized')
    const fresh = await identityToken(rotated.body.data.identity_secret, 'u_r')
    expect((await t.call('POST', '/v1/visitors', { token: pk, body: { key: 'u_r', identity_token: fresh } })).status).toBe(200)
  })

  test('per-visitor bucket (pkv:<site>:<key>): one visitor is limited while another from the same IP still passes', async () => {
    // Free plan: 60 per minute. Spread over IPs so the per-site+IP bucket is not what stops us.
    for (let i = 0; i < 60; i++) {
      const r = await t.call('POST', '/v1/track', { token: pk, body: { key: 'hot', name: 'tick' }, ip: `10.0.0.${i}` })
      expect(r.status).toBe(201)
    }
    const limited = await t.call('POST', '/v1/track', { token: pk, body: { key: 'hot', name: 'tick' }, ip: '10.0.1.1' })
    expectError(limited, 429, 'rate_limited')
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(limited.body.error.message).toContain('"hot"')
    expectError(await t.call('POST', '/v1/visitors', { token: pk, body: { key: 'hot' }, ip: '10.0.1.2' }), 429, 'rate_limited')
    expect((await t.call('POST', '/v1/track', { token: pk, body: { key: 'cool', name: 'tick' }, ip: '10.0.1.1' })).status).toBe(201)
    // A secret token is not subject to the per-visitor bucket.
    expect((await t.call('POST', '/v1/track', { body: { key: 'hot', name: 'tick' } })).status).toBe(201)
    t.clock.advance(60_000)
    expect((await t.call('POST', '/v1/track', { token: pk, body: { key: 'hot', name: 'tick' }, ip: '10.0.1.1' })).status).toBe(201)
  })
})
