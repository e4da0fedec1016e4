/**
 * The front's first look at a request's target, before anything parses it. Routing must depend on
 * the path alone, whatever the client put in `Host`:
 * - Without a Host header (HTTP/1.0 allows that), or with one Bun cannot parse, Bun hands us a
 *   relative URL (`/v1/tags`), which `new URL` refuses.
 * - Elysia finds the path of an absolute URL by looking for the first `/` from index 11, which
 *   assumes a host of at least 4 characters (`http://abc/v1/tags` routes as `/tags`).
 * Both become `http://localhost/...`: a URL every later step reads correctly.
 * A Host header that is present but malformed is the client's error (RFC 9112 section 3.2: 400),
 * and so is a path with a malformed percent escape, which every later decode would throw on.
 */
import { BadRequestError } from '../errors'
import { pathStart } from './url-path'

/** The shortest scheme-plus-host prefix Elysia's router reads right (`http://abcd`). */
const ROUTER_PATH_MIN_INDEX = 11
const NEUTRAL_ORIGIN = 'http://localhost'
/** Hosts made only of these need no further check (names, IPv4, port); anything else must parse. */
const PLAIN_HOST = /^[A-Za-z0-9.-]+(?::\d+)?$/

/**
 * A request every later step can route and parse: the same request when its URL already is, a
 * copy on `http://localhost` when its host was missing or too short. Throws BadRequestError for a
 * malformed Host header or a malformed percent escape in the path.
 */
export function routableRequest(request: Request): Request {
  const url = request.url
  let start = url.charCodeAt(0) === 47 /* '/' */ ? 0 : pathStart(url)
  let target = request
  if (start === 0 || start < ROUTER_PATH_MIN_INDEX) {
    // A relative URL means Bun found no usable host: absent is allowed, present but unparsable is not.
    if (start === 0 && request.headers.get('host')?.trim()) {
      throw new BadRequestError('The Host header is not a valid host name or address.', 'Host')
    }
    const path = start < 0 ? '/' : url.slice(start)
    target = new Request(NEUTRAL_ORIGIN + path, request)
    start = NEUTRAL_ORIGIN.length
  } else if (!PLAIN_HOST.test(url.slice(url.indexOf('//') + 2, start)) && !URL.canParse(url)) {
    // Bun passes some hosts it cannot parse into the URL (`Host: [::1` gives `http://[::1/...`).
    throw new BadRequestError('The Host header is not a valid host name or address.', 'Host')
  }
  assertWellFormedPath(target.url, start)
  return target
}

/** Throws BadRequestError when the path (not the query) holds a percent escape that does not decode. */
function assertWellFormedPath(url: string, start: number): void {
  const query = url.indexOf('?', start)
  const path = query < 0 ? url.slice(start) : url.slice(start, query)
  if (!path.includes('%')) return
  try {
    decodeURIComponent(path)
  } catch {
    throw new BadRequestError('The path holds a malformed percent escape (each % must start a valid UTF-8 escape like %2F).', 'path')
  }
}
