/**
 * The one error type of the API. Handlers throw these; the error plugin turns any of them into
 * the envelope `{ ok:false, error:{ code, message, request_id, param? } }` with the right status.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly param?: string,
    /** Extra response headers the error implies (Retry-After, Allow, WWW-Authenticate). */
    readonly headers?: Record<string, string>,
  ) {
    super(message)
    this.name = new.target.name
  }
}

/** 400: the input is wrong; `param` names the field when one is to blame. */
export class BadRequestError extends ApiError {
  constructor(message: string, param?: string) {
    super(400, 'bad_request', message, param)
  }
}

/** 401: missing, unknown or revoked credentials. */
export class UnauthorizedError extends ApiError {
  constructor(message = 'A valid API token is required: send "Authorization: Bearer <token>".') {
    super(401, 'unauthorized', message, undefined, { 'www-authenticate': 'Bearer realm="mlc"' })
  }
}

/** 403: authenticated, but the token's scopes or kind do not allow this. */
export class ForbiddenError extends ApiError {
  constructor(message: string) {
    super(403, 'forbidden', message)
  }
}

/** 404: unknown resource or id (also for ids that belong to another site). */
export class NotFoundError extends ApiError {
  constructor(message: string, param?: string) {
    super(404, 'not_found', message, param)
  }
}

/** 405: the resource exists but does not answer this method. */
export class MethodNotAllowedError extends ApiError {
  constructor(method: string, allowed: string[]) {
    super(405, 'method_not_allowed', `${method} is not allowed here; allowed: ${allowed.join(', ')}.`, undefined, {
      allow: allowed.join(', '),
    })
  }
}

/** 409: the request conflicts with stored state (duplicate name, already rated ...). */
export class ConflictError extends ApiError {
  constructor(message: string, param?: string) {
    super(409, 'conflict', message, param)
  }
}

/** 409: a request with the same Idempotency-Key is still running; retry after a second. */
export class IdempotencyInFlightError extends ApiError {
  constructor() {
    super(409, 'conflict', 'A request with this Idempotency-Key is still being processed; retry in a second.', 'Idempotency-Key', { 'retry-after': '1' })
  }
}

/** 422: an Idempotency-Key reused for a different request (method, path or body). */
export class IdempotencyMismatchError extends ApiError {
  constructor() {
    super(
      422,
      'idempotency_mismatch',
      'This Idempotency-Key was used for a different request (method, path or body); use a new key for a new request.',
      'Idempotency-Key',
    )
  }
}

/** 413: body over the limit. */
export class PayloadTooLargeError extends ApiError {
  constructor(limitBytes: number) {
    super(413, 'payload_too_large', `The request body is larger than ${limitBytes} bytes.`)
  }
}

/** 429: a rate limit is exhausted; Retry-After says when to come back. */
export class RateLimitedError extends ApiError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, 'rate_limited', message, undefined, { 'retry-after': String(Math.max(1, retryAfterSeconds)) })
  }
}

/** 503: storage is unavailable (disk full, locked); the request may be retried. */
export class UnavailableError extends ApiError {
  constructor(message = 'The service is temporarily unavailable; retry shortly.') {
    super(503, 'unavailable', message, undefined, { 'retry-after': '5' })
  }
}
