/**
 * The response envelope and its schemas. Handlers return `ok(set, data)`; the schemas here
 * describe the same shapes to the validator and to the OpenAPI document.
 */
import { type IntegerOptions, Type } from '@sinclair/typebox'
import { type TSchema, t } from 'elysia'
import { REQUEST_ID_HEADER } from './headers'

type HeaderBag = { headers: Record<string, unknown> }

/** The request id assigned to the current request. */
export function requestIdOf(set: HeaderBag): string {
  return set.headers[REQUEST_ID_HEADER] as string
}

/**
 * An integer in a response. Elysia's `t.Integer` also accepts integer strings: it is a transform
 * with a validator compiled when the schema is built. That is right for query strings and path
 * ids (requests keep it), but for our own output it only cost time: ~50 of them took ~5 ms of
 * every start, and the transform ran on every response check. The OpenAPI document shows these
 * as plain integers.
 */
export function ResponseInteger(options?: IntegerOptions) {
  return Type.Integer(options)
}

/** A success envelope. */
export function ok<T>(set: HeaderBag, data: T) {
  return { ok: true as const, data, request_id: requestIdOf(set) }
}

/** A success envelope for one page of a cursor-paginated list. */
export function okPage<T>(set: HeaderBag, page: { items: T[]; has_more: boolean; next_cursor: string | null }) {
  return { ok: true as const, data: page.items, has_more: page.has_more, next_cursor: page.next_cursor, request_id: requestIdOf(set) }
}

/** Schema of a success envelope around `data`. */
export function Envelope<T extends TSchema>(data: T) {
  return t.Object({ ok: t.Literal(true), data, request_id: t.String() })
}

/** Schema of a paginated success envelope around a list of `item`. */
export function PageEnvelope<T extends TSchema>(item: T) {
  return t.Object({
    ok: t.Literal(true),
    data: t.Array(item),
    has_more: t.Boolean(),
    next_cursor: t.Union([t.String(), t.Null()]),
    request_id: t.String(),
  })
}

/** Schema of every error response. */
export const ErrorEnvelope = t.Object(
  {
    ok: t.Literal(false),
    error: t.Object({
      code: t.String({
        description:
          'bad_request, unauthorized, forbidden, not_found, method_not_allowed, conflict, payload_too_large, idempotency_mismatch, rate_limited, internal_error, unavailable',
      }),
      message: t.String(),
      request_id: t.String(),
      param: t.Optional(t.String({ description: 'The request field that is wrong, when one is to blame.' })),
    }),
  },
  { $id: '#/components/schemas/Error' },
)

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input; `param` names the field.',
  401: 'Missing, unknown or revoked token.',
  403: 'The token lacks the scope (or is a publishable key).',
  404: 'Unknown resource or id.',
  405: 'Method not allowed on this resource.',
  409: 'Conflicts with stored state.',
  413: 'Body over 1 MiB.',
  429: 'Rate limited; see Retry-After.',
  503: 'Storage temporarily unavailable.',
}

/**
 * The response map of a route: its success schemas plus the error envelope under each error
 * status it can answer. Every authenticated route can answer 401 and 429.
 */
export function responses<S extends Record<number, TSchema>>(success: S, errors: number[] = []) {
  return publicResponses(success, [...errors, 401, 429])
}

/** As `responses`, for a route that needs no credential and takes from no bucket (no 401, no 429). */
export function publicResponses<S extends Record<number, TSchema>>(success: S, errors: number[] = []) {
  const out: Record<number, TSchema> = { ...success }
  for (const status of new Set(errors)) out[status] = errorSchema(status)
  return out as S
}

const errorSchemas = new Map<number, TSchema>()

/** The error envelope described for one status; built once and shared by every route (~80 of them). */
function errorSchema(status: number): TSchema {
  let schema = errorSchemas.get(status)
  if (!schema) {
    schema = t.Object(ErrorEnvelope.properties, { description: ERROR_DESCRIPTIONS[status] ?? 'Error' })
    errorSchemas.set(status, schema)
  }
  return schema
}
