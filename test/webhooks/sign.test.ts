/** Signatures: the seed's verifier and the standardwebhooks package accept ours, with one or two secrets. */
import { describe, expect, test } from 'bun:test'
import { Webhook } from 'standardwebhooks'
import { deliveryHeaders, mlcSignature, newWebhookSecret, secretPrefix, standardKey, standardSignature } from '../../src/webhooks/sign'
import { seedVerify } from './harness'

const body = JSON.stringify({ id: 'evt_1', event: 'feedback', session_id: 's', visitor: { name: 'Jay', email: 'j@example.com' }, rating: 5 })

describe('signing', () => {
  test('secrets are whsec_ + base64 of 32 random bytes', () => {
    const a = newWebhookSecret()
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(standardKey(a)).toHaveLength(32)
    expect(newWebhookSecret()).not.toBe(a)
    expect(secretPrefix(a)).toBe(`${a.slice(0, 10)}...`)
  })

  test('X-MLC-Signature is sha256=hex of the raw body keyed with the secret string (known vector)', () => {
    // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), the RFC 4231-style textbook vector.
    expect(mlcSignature('key', 'The quick brown fox jumps over the lazy dog')).toBe('sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8')
    const secret = newWebhookSecret()
    expect(seedVerify(body, mlcSignature(secret, body), secret)).toBe(true)
    expect(seedVerify(body, mlcSignature(newWebhookSecret(), body), secret)).toBe(false)
  })

  test('webhook-signature verifies with standardwebhooks; the key is the decoded part after whsec_', () => {
    const secret = newWebhookSecret()
    const ts = Math.floor(Date.now() / 1000)
    const headers = { 'webhook-id': 'evt_1', 'webhook-timestamp': String(ts), 'webhook-signature': standardSignature(secret, 'evt_1', ts, body) }
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body))
    // And it matches the package's own signer byte for byte.
    expect(headers['webhook-signature']).toBe(new Webhook(secret).sign('evt_1', new Date(ts * 1000), body))
  })

  test('with a previous secret both are in webhook-signature, newest first; X-MLC-Signature uses the newest', () => {
    const current = newWebhookSecret()
    const previous = newWebhookSecret()
    const ts = Math.floor(Date.now() / 1000)
    const h = deliveryHeaders(
      { deliveryId: 'dlv_1', eventId: 'evt_1', event: 'feedback', body, timestampSeconds: ts, secret: current, previousSecret: previous },
      'ua',
    )
    expect(h['webhook-signature']?.split(' ')).toEqual([standardSignature(current, 'evt_1', ts, body), standardSignature(previous, 'evt_1', ts, body)])
    expect(new Webhook(current).verify(body, h)).toBeTruthy()
    expect(new Webhook(previous).verify(body, h)).toBeTruthy()
    expect(seedVerify(body, h['x-mlc-signature'] as string, current)).toBe(true)
    expect(h).toMatchObject({ 'x-mlc-event': 'feedback', 'x-mlc-delivery': 'dlv_1', 'x-mlc-timestamp': String(ts), 'webhook-id': 'evt_1' })
    expect(JSON.stringify(h)).not.toContain(current)
    expect(JSON.stringify(h)).not.toContain(previous.slice(6))
  })
})
