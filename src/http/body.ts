/**
 * Body parsing. JSON is parsed whatever the Content-Type says, because the product page's own
 * `curl -d '{...}'` sends application/x-www-form-urlencoded. An empty body is `{}`. Malformed JSON
 * is not rejected here but marked, so authentication still answers first (401 before 400).
 */
import { BadRequestError, PayloadTooLargeError } from '../errors'
import { IDEMPOTENCY_KEY_HEADER, MAX_BODY_BYTES } from './headers'

const MALFORMED = Symbol('malformed-json')
type Marked = { [MALFORMED]: string }

/** The raw text of bodies whose request carries an Idempotency-Key: the key's fingerprint hashes it. */
const rawBodies = new WeakMap<Request, string>()

/** The raw body `parseBody` read for a request with an Idempotency-Key ('' when none was read). */
export function rawBodyOf(request: Request): string {
  return rawBodies.get(request) ?? ''
}

/** Reads and parses a request body (the `onParse` hook). */
export async function parseBody(request: Request): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? 0)
  if (declared > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES)
  const text = await request.text()
  // Chunked bodies carry no length: measure what arrived (bytes, not UTF-16 units).
  if (text.length > MAX_BODY_BYTES / 4 && Buffer.byteLength(text) > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES)
  // Kept only when it may be needed: requests without the header pay one header lookup.
  if (request.headers.has(IDEMPOTENCY_KEY_HEADER)) rawBodies.set(request, text)
  if (text.trim() === '') return {}
  try {
    return JSON.parse(text)
  } catch (err) {
    return { [MALFORMED]: (err as Error).message } satisfies Marked
  }
}

/** Throws the 400 for a body `parseBody` marked as malformed (called after authentication). */
export function rejectMalformed(body: unknown): void {
  if (body && typeof body === 'object' && MALFORMED in body) {
    throw new BadRequestError(`The request body is not valid JSON: ${(body as Marked)[MALFORMED]}`, 'body')
  }
}
