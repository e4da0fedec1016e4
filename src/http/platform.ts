/**
 * The platform plugin every request passes through: assigns the request id, sets CORS headers,
 * parses bodies, and turns every error (ours, Elysia's, unknown) into the one envelope.
 */
import { Elysia } from 'elysia'
import { StorageUnavailableError } from '../db/errors'
import { ApiError, UnavailableError } from '../errors'
import type { Logger } from '../log'
import { redactUrl } from '../log'
import { newRequestId } from '../random'
import { parseBody } from './body'
import { CORS_HEADERS, REQUEST_ID_HEADER } from './headers'
import { IdempotentReplay, replayResponse } from './idempotency'
import { attachRequestId } from './request-state'
import type { RouteTable } from './route-table'

/** The error envelope as a Response, with the context's headers (request id, CORS, rate limit). */
export function errorResponse(err: ApiError, headers: Record<string, unknown>, requestId: string): Response {
  const body = {
    ok: false,
    error: { code: err.code, message: err.message, request_id: requestId, ...(err.param ? { param: err.param } : {}) },
  }
  const h = new Headers()
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) h.set(k, String(v))
  if (err.headers) for (const [k, v] of Object.entries(err.headers)) h.set(k, v)
  h.set('content-type', 'application/json; charset=utf-8')
  return new Response(JSON.stringify(body), { status: err.status, headers: h })
}

/** Human wording for a schema violation, naming the field. */
function validationError(error: {
  all?: unknown
  valueError?: { path: string; message: string; schema?: { error?: string } }
  customError?: unknown
  type?: string
}): ApiError {
  const first = error.valueError
  const custom = typeof error.customError === 'string' ? error.customError : first?.schema?.error
  // A coerced query value that fails a bound (`limit=0`) arrives as a "property" error without a
  // path; our schema messages start with the field name ("limit must be ..."), so take it from there.
  const named = error.type === 'property' && custom ? /^([a-z_][\w.]*) must\b/.exec(custom)?.[1] : undefined
  const path = first?.path?.replace(/^\//, '').replaceAll('/', '.') || named || (error.type === 'query' ? 'query' : 'body')
  const message = custom ?? `${path}: ${first?.message ?? 'invalid value'}`
  return new ApiError(400, 'bad_request', message, path)
}

/** Builds the platform plugin. `routes` is read lazily, once every module is registered. */
export function createPlatformPlugin(deps: { logger: Logger; routes: () => RouteTable }) {
  const { logger } = deps
  return new Elysia({ name: 'mlc-platform' })
    .onRequest(({ set, request }) => {
      const requestId = newRequestId()
      set.headers[REQUEST_ID_HEADER] = requestId
      attachRequestId(request, requestId)
      Object.assign(set.headers, CORS_HEADERS)
    })
    .onParse({ as: 'global' }, ({ request }) => parseBody(request))
    .onError({ as: 'global' }, ({ code, error, set, request }) => {
      const requestId = (set.headers[REQUEST_ID_HEADER] as string | undefined) ?? newRequestId()
      set.headers[REQUEST_ID_HEADER] = requestId
      if (error instanceof IdempotentReplay) return replayResponse(error.row, set.headers, requestId)
      let apiError: ApiError
      // Errors thrown while parsing arrive wrapped in Elysia's ParseError; ours sit in `cause`.
      const cause = (error as { cause?: unknown })?.cause
      if (error instanceof ApiError) apiError = error
      else if (code === 'PARSE' && cause instanceof ApiError) apiError = cause
      // A response that fails its own schema is our bug, not the caller's: it falls through to the 500 below.
      else if (code === 'VALIDATION' && (error as { type?: string }).type !== 'response') apiError = validationError(error as never)
      else if (code === 'NOT_FOUND') {
        const url = new URL(request.url)
        const found = deps.routes().unmatched(request.method, url.pathname)
        apiError = found as ApiError
      } else if (code === 'PARSE') apiError = new ApiError(400, 'bad_request', 'The request body could not be parsed.', 'body')
      // The database cannot answer now (disk full, locked elsewhere, connection lost): "try again later", not a bug.
      else if (error instanceof StorageUnavailableError) {
        logger.error('storage unavailable', { request_id: requestId, error: String((error as Error)?.message) })
        apiError = new UnavailableError()
      } else {
        const url = new URL(request.url)
        logger.error('unhandled error', {
          request_id: requestId,
          method: request.method,
          path: redactUrl(url.pathname + url.search),
          error: String((error as Error)?.message ?? error),
          stack: (error as Error)?.stack,
        })
        apiError = new ApiError(500, 'internal_error', `Something went wrong on our side. Quote request id ${requestId} when you contact support.`)
      }
      return errorResponse(apiError, set.headers, requestId)
    })
}
