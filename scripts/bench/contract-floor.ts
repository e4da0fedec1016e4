/**
 * The contract's floor: a bare Bun.serve that answers GET /v1/tags with the bytes and headers mlc
 * answers, doing by hand the least work the contract asks for per request, so the bench can show
 * how close to bare Bun.serve any implementation of it can get on this machine:
 *
 * - the client address (for the log line), the bearer token read and looked up in a Map (401 when unknown);
 * - a token bucket taken, its five rate-limit headers formatted, a request counted;
 * - a fresh request id in the body and its header; the ETag (hashed once: the tags never change
 *   here) and If-None-Match;
 * - one access-log line per request through mlc's own logger (batched, written by its thread).
 *
 * What it leaves out, mlc does: routing, validation, the auth cache's expiry and revocation
 * checks, reading the tags from storage, metrics, idempotency, conditional-read bookkeeping.
 *
 * Run by scripts/bench/api.ts as a child process: `bun contract-floor.ts <port> <token> <data JSON>`.
 */
import { setRateLimitHeaders } from '../../src/http/auth'
import { createLogger } from '../../src/log'
import { newRequestId } from '../../src/random'

const [port, token, dataJson] = process.argv.slice(2) as [string, string, string]
const logger = createLogger({ level: 'info' })
const principals = new Map([[token, { tokenId: 1 }]])
const LIMIT = 1_000_000
const bucket = { level: LIMIT, at: Date.now() }
let counted = 0
const etag = `"${Bun.hash(dataJson).toString(16).padStart(16, '0')}"`
const EXPOSE =
  'X-MLC-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit-Policy, RateLimit, Retry-After, ETag, Idempotent-Replayed, Original-Request'

Bun.serve({
  port: Number(port),
  hostname: '127.0.0.1',
  fetch(req, server) {
    const started = performance.now()
    const ip = server.requestIP(req)?.address ?? ''
    const header = req.headers.get('authorization')
    const principal = header?.startsWith('Bearer ') ? principals.get(header.slice(7)) : undefined
    if (!principal) return new Response('{"ok":false}', { status: 401 })
    const now = Date.now()
    bucket.level = Math.min(LIMIT, bucket.level + ((now - bucket.at) * LIMIT) / 60_000) - 1
    bucket.at = now
    counted++
    const remaining = Math.floor(bucket.level)
    const id = newRequestId()
    const headers: Record<string, string> = {
      'access-control-allow-origin': '*',
      'access-control-expose-headers': EXPOSE,
      etag,
      'x-mlc-request-id': id,
    }
    const resetSeconds = Math.ceil(((LIMIT - bucket.level) * 60) / LIMIT)
    setRateLimitHeaders(headers, { allowed: true, limit: LIMIT, remaining, resetSeconds, retryAfterSeconds: 0 }, now)
    let res: Response
    if (req.headers.get('if-none-match') === etag) res = new Response(null, { status: 304, headers })
    else {
      headers['content-type'] = 'application/json;charset=utf-8'
      res = new Response(`{"ok":true,"data":${dataJson},"request_id":"${id}"}`, { headers })
    }
    logger.access({
      request_id: id,
      method: req.method,
      path: '/v1/tags',
      status: res.status,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
      token_id: principal.tokenId,
      ip,
    })
    return res
  },
})
// The counter is kept as mlc keeps its own, in memory; printed on stop so it is not optimised away.
process.on('SIGTERM', () => {
  logger.info('stopped', { counted })
  process.exit(0)
})
