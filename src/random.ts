/**
 * Random identifiers, secrets, hashes and constant-time comparison. Web Crypto and Bun's own
 * hashers only: importing node:crypto costs ~10 ms of every start (see docs/operations.md).
 */

/** `n` bytes from the system CSPRNG. */
export function randomBytes(n: number): Buffer {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(n)))
}

/** `prefix` followed by base64url of `bytes` random bytes (32 bytes = 256 bits). */
export function randomSecret(prefix: string, bytes = 32): string {
  return prefix + randomBytes(bytes).toString('base64url')
}

/** 32 hex characters, time-ordered (UUIDv7) so ids sort like the log lines that carry them. */
export function newRequestId(): string {
  return Bun.randomUUIDv7().replaceAll('-', '')
}

/** SHA-256 of a string as lowercase hex. */
export function sha256Hex(s: string): string {
  return new Bun.CryptoHasher('sha256').update(s).digest('hex')
}

/** HMAC-SHA256 of `data` keyed with `key` (a string's UTF-8 bytes, or raw bytes). */
export function hmacSha256(key: string | Uint8Array, data: string): Buffer {
  return new Bun.CryptoHasher('sha256', key).update(data).digest() as Buffer
}

/** Whether two strings are equal, in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && crypto.timingSafeEqual(x, y)
}
