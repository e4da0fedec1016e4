/** Random ids for anonymous visitors, events and outbox entries. */

/** 32 hex characters from the browser's CSPRNG (crypto.randomUUID needs a secure context; this does not). */
export function uid(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b | 256).toString(16).slice(1)).join('')
}
