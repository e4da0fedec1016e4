/**
 * Webhook secrets and signatures. Two schemes ride on every delivery so a receiver written from
 * the product page (X-MLC-Signature) and one using the `standardwebhooks`/`svix` packages both work.
 */
import { hmacSha256, randomBytes } from '../random'

const SECRET_PREFIX = 'whsec_'

/** A new subscription secret: `whsec_` + base64 of 32 random bytes (the Standard Webhooks form). */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64')
}

/** The HMAC key Standard Webhooks uses: the base64-decoded part after `whsec_`. */
export function standardKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64')
}

/** `sha256=<hex>`: HMAC-SHA256 of the raw body keyed with the secret string itself (the seed's verify-webhook.js). */
export function mlcSignature(secret: string, body: string): string {
  return `sha256=${hmacSha256(secret, body).toString('hex')}`
}

/** `v1,<base64>`: Standard Webhooks' HMAC-SHA256 over `id.timestamp.body` keyed with the decoded secret. */
export function standardSignature(secret: string, msgId: string, timestampSeconds: number, body: string): string {
  return `v1,${hmacSha256(standardKey(secret), `${msgId}.${timestampSeconds}.${body}`).toString('base64')}`
}

export interface SignInput {
  deliveryId: string
  eventId: string
  event: string
  body: string
  timestampSeconds: number
  secret: string
  /** The secret before the last rotation, while its grace window lasts. */
  previousSecret: string | null
}

/**
 * Every header of a delivery request. `webhook-signature` carries one `v1,` entry per valid
 * secret (newest first), space separated, as Standard Webhooks allows; X-MLC-Signature uses the newest only.
 */
export function deliveryHeaders(input: SignInput, userAgent: string): Record<string, string> {
  const ts = input.timestampSeconds
  const sigs = [standardSignature(input.secret, input.eventId, ts, input.body)]
  if (input.previousSecret && input.previousSecret !== input.secret) sigs.push(standardSignature(input.previousSecret, input.eventId, ts, input.body))
  return {
    'content-type': 'application/json',
    'user-agent': userAgent,
    'x-mlc-event': input.event,
    'x-mlc-delivery': input.deliveryId,
    'x-mlc-timestamp': String(ts),
    'x-mlc-signature': mlcSignature(input.secret, input.body),
    'webhook-id': input.eventId,
    'webhook-timestamp': String(ts),
    'webhook-signature': sigs.join(' '),
  }
}

/** The first characters of a secret, enough to tell two apart, never enough to sign. */
export function secretPrefix(secret: string): string {
  return `${secret.slice(0, SECRET_PREFIX.length + 4)}...`
}
