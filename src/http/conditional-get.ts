/**
 * Conditional reads of the token API (RFC 9110 8.8.3 ETag, 13.1.2 If-None-Match): a 200 to a GET
 * or HEAD carries a strong ETag, and an If-None-Match naming it answers 304 without a body.
 *
 * The tag identifies the representation: it is a 64-bit wyhash (`Bun.hash`) of the serialised
 * envelope without its `request_id` (which differs on every request), so the same `data`,
 * `has_more` and `next_cursor` get the same tag on every request, and headers play no part. The
 * body is serialised once here (Elysia would do it otherwise) and hashed in place, around the
 * request id: nothing is copied or serialised twice. wyhash is not collision-resistant against
 * crafted input, which is fine for a tag: only a token of the site can write what its readers
 * see, and a collision costs one stale read of its own data, never another site's.
 *
 * The auth plugin (src/http/auth.ts) runs this on every route that takes a token, and gives the
 * request back to the rate limit when the answer is a 304.
 */
import { JSON_CONTENT_TYPE, REQUEST_ID_HEADER } from './headers'
import { JsonTextResponse } from './spliced-envelope'

/** Elysia's `set` of a request, as far as this file uses it. */
export interface ResponseSet {
  headers: Record<string, unknown>
  status?: number | string
}

/** The strong tag of `json`, an envelope serialised with `request_id` `requestId` (left out of the hash). */
export function entityTagOf(json: string, requestId: string | undefined): string {
  let hash: bigint
  const needle = `"request_id":"${requestId}"`
  // The id is this request's own (random), so it appears once: near the end, where ok()/okPage() put it.
  const at = requestId === undefined ? -1 : json.lastIndexOf(needle)
  if (at > 0) {
    // Without the comma before it: `{"ok":true,"data":...` then whatever followed the id (`}` or `,"has_more":...}`).
    hash = Bun.hash(json.slice(at + needle.length), Bun.hash(json.slice(0, at - 1))) as bigint
  } else {
    hash = Bun.hash(json) as bigint
  }
  return `"${hash.toString(16).padStart(16, '0')}"`
}

/** RFC 9110 etagc: %x21 / %x23-7E / obs-text (%x80-FF). */
function isEtagChar(c: number): boolean {
  return c === 0x21 || (c >= 0x23 && c <= 0x7e) || (c >= 0x80 && c <= 0xff)
}

/**
 * Whether an If-None-Match field value matches `etag` (a strong tag, `"..."`), by the weak
 * comparison RFC 9110 13.1.2 prescribes for it: `W/"x"` matches `"x"`. The value is `*` or a
 * comma-separated list of entity tags (empty elements allowed, 5.6.1); anything else is malformed
 * and matches nothing, so the request is answered in full (a 200), as if the header were absent.
 */
export function ifNoneMatchHits(field: string, etag: string): boolean {
  const n = field.length
  let i = 0
  const skipSpace = () => {
    while (i < n && (field.charCodeAt(i) === 0x20 || field.charCodeAt(i) === 0x09)) i++
  }
  skipSpace()
  if (field.charCodeAt(i) === 0x2a /* * */) {
    i++
    skipSpace()
    return i === n
  }
  let hit = false
  while (i < n) {
    if (field.charCodeAt(i) === 0x2c /* , */) {
      i++
      skipSpace()
      continue
    }
    if (field.startsWith('W/', i)) i += 2
    if (field.charCodeAt(i) !== 0x22 /* " */) return false
    let end = i + 1
    while (end < n && isEtagChar(field.charCodeAt(end))) end++
    if (end >= n || field.charCodeAt(end) !== 0x22) return false
    // Read the whole list before answering: a malformed element anywhere voids the header.
    if (!hit && end + 1 - i === etag.length && field.startsWith(etag, i)) hit = true
    i = end + 1
    skipSpace()
    if (i < n && field.charCodeAt(i) !== 0x2c) return false
  }
  return hit
}

/**
 * The body of a 200 envelope to a GET or HEAD, serialised once, with its ETag set on `set`;
 * undefined for anything else (another status, any other Response, a non-envelope value), which Elysia
 * answers as usual.
 */
export function taggedBody(set: ResponseSet, value: unknown): string | undefined {
  // The event feed's envelope, built around stored text: tagged as it is.
  if (value instanceof JsonTextResponse) return set.status === 200 ? tag(set, value.jsonText) : undefined
  if (set.status !== 200 || value === null || typeof value !== 'object' || value.constructor !== Object) return undefined
  if ((value as { ok?: unknown }).ok !== true) return undefined
  return tag(set, JSON.stringify(value))
}

/** Sets the ETag (and content type) of a serialised 200 envelope; answers the text. */
function tag(set: ResponseSet, json: string): string {
  set.headers.etag = entityTagOf(json, set.headers[REQUEST_ID_HEADER] as string | undefined)
  set.headers['content-type'] = JSON_CONTENT_TYPE
  return json
}

/**
 * Turns the answer into a 304 (RFC 9110 15.4.5): no body and no content type; the ETag, the
 * request id, CORS and rate-limit headers stay. Null is what Elysia then sends as an empty body.
 */
export function notModified(set: ResponseSet): null {
  set.status = 304
  delete set.headers['content-type']
  return null
}
