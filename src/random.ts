/** Random identifiers and secrets. */
import { randomBytes } from 'node:crypto'

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
