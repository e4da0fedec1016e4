/**
 * Conditional reads in the OpenAPI document: every GET of the token API (an operation that takes a
 * bearer token) documents the `If-None-Match` request header, the `ETag` of its 200 and the 304.
 * Done once over the generated document rather than per route: the auth plugin adds the behaviour
 * to every such route (src/http/conditional-get.ts), and a route's `responses()` cannot tell a GET
 * from the PATCH or DELETE that answers 200 too.
 */

interface Operation {
  security?: Record<string, unknown>[]
  parameters?: { name: string; in: string }[]
  responses?: Record<string, { headers?: Record<string, unknown> }>
}

const ETAG_HEADER = {
  description: 'Strong tag of this representation (the body without `request_id`; headers play no part). Send it back in `If-None-Match`.',
  schema: { type: 'string' },
}

const IF_NONE_MATCH = {
  name: 'If-None-Match',
  in: 'header',
  required: false,
  description:
    'ETags of representations you hold (a comma-separated list, `W/` tags compared weakly) or `*`. When one is current, the answer is 304 without a body, and it costs no request from the rate limit. A malformed value is ignored.',
  schema: { type: 'string' },
}

const NOT_MODIFIED = {
  description:
    'Not Modified: the tag in `If-None-Match` is current. No body; `ETag`, `X-MLC-Request-Id`, CORS and the rate-limit headers as on a 200, `X-RateLimit-Remaining` unchanged by this request.',
  headers: { ETag: ETAG_HEADER },
}

/** Adds conditional reads to every token-API GET of `doc` (an OpenAPI 3 document). Idempotent. */
export function documentConditionalGets(doc: { paths?: Record<string, Record<string, Operation>> }): void {
  for (const item of Object.values(doc.paths ?? {})) {
    const op = item.get
    if (!op?.security?.some((s) => 'bearer' in s) || !op.responses?.['200']) continue
    const ok = op.responses['200']
    ok.headers = { ...ok.headers, ETag: ETAG_HEADER }
    op.responses['304'] = NOT_MODIFIED
    const params = op.parameters ?? []
    if (!params.some((p) => p.in === 'header' && p.name === IF_NONE_MATCH.name)) op.parameters = [...params, IF_NONE_MATCH]
  }
}
