/**
 * Idempotency-Key on the chat widget's POSTs: a visitor's retry answers the first response and
 * writes nothing; keys are the visitor's own, so another visitor with the same key never gets
 * their response; an identity token sent as a header is part of the request the key names.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { siteKeyOf } from '../chat/harness'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
let siteKey: string
beforeAll(async () => {
  t = await createTestApp()
  siteKey = await siteKeyOf(t, t.site1)
})
afterAll(() => t.cleanup())

/** A widget POST as the widget sends it: the site key header, the visitor in the body, the key. */
function post(path: string, body: Record<string, unknown>, key: string, headers: Record<string, string> = {}) {
  return t.call('POST', `/v1/widget${path}`, { token: null, body, headers: { 'x-mlc-site-key': siteKey, 'idempotency-key': key, ...headers } })
}

async function visitorMessages(sessionId: string, anonId: string): Promise<{ id: number; role: string; text: string }[]> {
  const r = await t.call('GET', `/v1/widget/sessions/${sessionId}/messages?anon_id=${anonId}`, { token: null, headers: { 'x-mlc-site-key': siteKey } })
  return r.body.data.messages.filter((m: { role: string }) => m.role === 'visitor')
}

describe('widget POSTs with an Idempotency-Key', () => {
  test('opening a chat twice with one key answers the same session', async () => {
    const first = await post('/sessions', { anon_id: 'w-open' }, 'open-1')
    expect(first.status).toBe(201)
    const again = await post('/sessions', { anon_id: 'w-open' }, 'open-1')
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.headers.get('original-request')).toBe(first.body.request_id)
    expect(again.body.request_id).toBe(again.headers.get('x-mlc-request-id'))
    expect(again.body.data).toEqual(first.body.data)
    // Without the key, a new session.
    const other = await t.call('POST', '/v1/widget/sessions', { token: null, body: { anon_id: 'w-open' }, headers: { 'x-mlc-site-key': siteKey } })
    expect(other.body.data.session_id).not.toBe(first.body.data.session_id)
  })

  test('a retried message is stored once and answered the same', async () => {
    const session = (await post('/sessions', { anon_id: 'w-msg' }, 'open-2')).body.data.session_id
    const first = await post(`/sessions/${session}/messages`, { anon_id: 'w-msg', text: 'Hello there' }, 'msg-1')
    expect(first.status).toBe(201)
    const again = await post(`/sessions/${session}/messages`, { anon_id: 'w-msg', text: 'Hello there' }, 'msg-1')
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.body.data).toEqual(first.body.data)
    expect((await visitorMessages(session, 'w-msg')).map((m) => m.text)).toEqual(['Hello there'])
    // The same key with another text is a misuse of the key, not a new message.
    expectError(await post(`/sessions/${session}/messages`, { anon_id: 'w-msg', text: 'Other' }, 'msg-1'), 422, 'idempotency_mismatch', 'Idempotency-Key')
  })

  test("another visitor using the same key gets their own answer, never the first visitor's response", async () => {
    const session = (await post('/sessions', { anon_id: 'w-owner' }, 'open-3')).body.data.session_id
    // The visitor names itself in the query here, so the body is the same for both.
    const mine = await t.call('POST', `/v1/widget/sessions/${session}/messages?anon_id=w-owner`, {
      token: null,
      body: { text: 'secret question' },
      headers: { 'x-mlc-site-key': siteKey, 'idempotency-key': 'shared-key' },
    })
    expect(mine.status).toBe(201)
    const theirs = await t.call('POST', `/v1/widget/sessions/${session}/messages?anon_id=w-intruder`, {
      token: null,
      body: { text: 'secret question' },
      headers: { 'x-mlc-site-key': siteKey, 'idempotency-key': 'shared-key' },
    })
    expectError(theirs, 404, 'not_found')
    expect(theirs.headers.get('idempotent-replayed')).toBeNull()
    // And the same key opens the intruder's own session, not a copy of someone else's.
    const openMine = await post('/sessions', { anon_id: 'w-owner' }, 'open-shared')
    const openTheirs = await post('/sessions', { anon_id: 'w-intruder' }, 'open-shared')
    expect(openTheirs.headers.get('idempotent-replayed')).toBeNull()
    expect(openTheirs.body.data.session_id).not.toBe(openMine.body.data.session_id)
  })

  test('an identity token sent as a header belongs to the request: another one with the same key is a mismatch', async () => {
    const first = await post('/sessions', { visitor_key: 'user-7' }, 'open-id', { 'x-mlc-identity-token': 'token-a' })
    const again = await post('/sessions', { visitor_key: 'user-7' }, 'open-id', { 'x-mlc-identity-token': 'token-a' })
    expect(again.status).toBe(first.status)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expectError(
      await post('/sessions', { visitor_key: 'user-7' }, 'open-id', { 'x-mlc-identity-token': 'token-b' }),
      422,
      'idempotency_mismatch',
      'Idempotency-Key',
    )
  })

  test('a malformed key is refused after the site key is checked', async () => {
    expectError(await post('/sessions', { anon_id: 'w-bad' }, 'x'.repeat(256)), 400, 'bad_request', 'Idempotency-Key')
    const unknownSite = await t.call('POST', '/v1/widget/sessions', {
      token: null,
      body: { anon_id: 'w-bad' },
      headers: { 'x-mlc-site-key': 'pk_unknown', 'idempotency-key': 'x'.repeat(256) },
    })
    expectError(unknownSite, 401, 'unauthorized')
  })
})
