/**
 * Header names and CORS policy of the API. The visitor SDK reads the same names; a test keeps
 * `sdk/` and this file in agreement.
 */
export const REQUEST_ID_HEADER = 'x-mlc-request-id'

/** Request header naming a write for safe retries (src/http/idempotency.ts). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'
/** Response headers of an answer replayed for an Idempotency-Key: `true`, and the first request's id. */
export const IDEMPOTENCY_RESPONSE_HEADERS = ['Idempotent-Replayed', 'Original-Request'] as const

export const RATE_LIMIT_HEADERS = ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'RateLimit-Policy', 'RateLimit', 'Retry-After'] as const

/** Headers every response carries so browsers may call the API with a bearer token. */
export const CORS_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': ['X-MLC-Request-Id', ...RATE_LIMIT_HEADERS, 'ETag', ...IDEMPOTENCY_RESPONSE_HEADERS].join(', '),
}

/** Extra headers answering a CORS preflight. */
export const PREFLIGHT_HEADERS: Record<string, string> = {
  ...CORS_HEADERS,
  'access-control-allow-methods': 'GET, POST, PATCH, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type, Idempotency-Key, If-None-Match, X-MLC-Site-Key, X-MLC-Identity-Token',
  'access-control-max-age': '86400',
}

/** The content type of JSON bodies Bun serialises (`Response.json`); envelopes we build ourselves say the same. */
export const JSON_CONTENT_TYPE = 'application/json;charset=utf-8'

/** Largest request body accepted, in bytes (1 MiB). */
export const MAX_BODY_BYTES = 1024 * 1024
