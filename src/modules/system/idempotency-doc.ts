/**
 * The Idempotency-Key in the OpenAPI document. Every write of the API honours the header
 * (src/http/idempotency.ts), but no route declares it: a header schema on ~50 routes would also
 * make Elysia validate headers on every request. So the generated document gets it here, on each
 * POST, PATCH and DELETE under /v1/: the header parameter, the replay's response headers on every
 * status that can be replayed, and the 409 and 422 the key can answer.
 */

type Json = Record<string, any>

const KEY_PARAMETER = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes the request safe to retry: the first response (any status but 5xx and 429) is stored with the key for 24 hours ' +
    '(MLC_IDEMPOTENCY_TTL) and answered again to a retry with the same method, path and body, which changes nothing. ' +
    'Keys are per site and credential (each widget visitor has their own). A random UUID per logical request is a good key.',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7E]+$' },
}

const REPLAY_HEADERS = {
  'Idempotent-Replayed': {
    description: '`true` when this is the stored response of an earlier request with the same Idempotency-Key.',
    schema: { type: 'string', enum: ['true'] },
  },
  'Original-Request': {
    description: 'On a replayed response: the request id of the request that produced it (the body carries the id of this request).',
    schema: { type: 'string' },
  },
}

const IN_FLIGHT = 'A request with the same Idempotency-Key is still running (`conflict`, Retry-After: 1).'
const MISMATCH = 'The Idempotency-Key was used for a different method, path or body (`idempotency_mismatch`, param `Idempotency-Key`).'

const documented = new WeakSet<object>()

/** Adds the Idempotency-Key to every write of `doc` (an OpenAPI document); a document is changed once. */
export function documentIdempotency(doc: unknown): void {
  if (!doc || typeof doc !== 'object' || documented.has(doc)) return
  documented.add(doc)
  for (const [path, item] of Object.entries(((doc as Json).paths ?? {}) as Json)) {
    if (!path.startsWith('/v1/')) continue
    for (const method of ['post', 'patch', 'delete']) {
      const op = item?.[method] as Json | undefined
      if (op?.responses) describeWrite(op)
    }
  }
}

function describeWrite(op: Json): void {
  op.parameters = [...(op.parameters ?? []), KEY_PARAMETER]
  const responses = op.responses as Json
  // Every authenticated route answers 401 in the error envelope: the model for the statuses added.
  const error = responses['401'] as Json | undefined
  if (error) {
    responses['400'] ??= { ...error, description: 'Bad input; `param` names the field.' }
    responses['409'] = responses['409']
      ? { ...responses['409'], description: `${responses['409'].description} Or: ${IN_FLIGHT}` }
      : { ...error, description: IN_FLIGHT }
    responses['422'] = { ...error, description: MISMATCH }
  }
  for (const [status, response] of Object.entries(responses)) {
    // Not stored, so never replayed: 5xx and 429 (and the in-flight 409, which shares its status with stored ones).
    if (status === '429' || status.startsWith('5')) continue
    responses[status] = { ...response, headers: { ...response.headers, ...REPLAY_HEADERS } }
  }
  // Keep the statuses in order, as generated.
  op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)))
}
