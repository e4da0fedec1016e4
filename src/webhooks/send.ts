/**
 * One delivery attempt over HTTP: vet the destination (SSRF guard), POST to the vetted address,
 * read at most the first 4 KB of the answer, and name what went wrong. Redirects are never
 * followed (a 3xx is a failed attempt). One timeout bounds the whole attempt, lookup included.
 */
import { parseRetryAfter } from './backoff'
import type { AttemptError } from './protocol'
import { ipFamily, type Resolver, systemResolver, TargetRefusedError, vetUrl } from './ssrf'

/** How much of a response body the delivery log keeps. */
export const RESPONSE_BODY_LIMIT = 4096

export interface SendInput {
  url: string
  body: string
  headers: Record<string, string>
  timeoutMs: number
  allowPrivate: boolean
  nowMs: number
  /** Aborts the attempt from outside (shutdown). */
  signal?: AbortSignal
  resolve?: Resolver
}

export interface SendResult {
  statusCode: number | null
  error: AttemptError | null
  errorMessage: string | null
  responseBody: string | null
  retryAfterSeconds: number | null
  /** The headers as sent, Host included. */
  sentHeaders: Record<string, string>
  durationMs: number
  /** True when the attempt was cut short by the outside signal (not the receiver's fault). */
  aborted: boolean
}

/** The attempt error class of a thrown fetch/lookup error. */
export function classifyError(err: unknown): AttemptError {
  const e = err as { name?: string; code?: string | number; message?: string }
  if (e?.name === 'TimeoutError') return 'timeout'
  const code = String(e?.code ?? '')
  const message = String(e?.message ?? '')
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA' || /getaddrinfo|DNS/i.test(message)) return 'dns'
  if (/CERT|TLS|SSL|EPROTO|HANDSHAKE/i.test(code) || /certificate|TLS handshake/i.test(message)) return 'tls'
  return 'refused'
}

async function readHead(res: Response): Promise<string> {
  if (!res.body) return ''
  // Most receivers answer a few bytes with a Content-Length: read those whole, skipping the stream machinery.
  const declared = Number(res.headers.get('content-length') ?? Number.NaN)
  if (declared >= 0 && declared <= RESPONSE_BODY_LIMIT) return await res.text()
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    while (total < RESPONSE_BODY_LIMIT) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      total += value.byteLength
    }
  } finally {
    reader.cancel().catch(() => {})
  }
  const bytes = Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT)
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes)
}

/** Sends one attempt; never throws. */
export async function sendOnce(input: SendInput): Promise<SendResult> {
  const started = performance.now()
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${input.timeoutMs} ms`, 'TimeoutError')), input.timeoutMs)
  const onOuterAbort = () => controller.abort(new DOMException('delivery worker stopping', 'AbortError'))
  input.signal?.addEventListener('abort', onOuterAbort, { once: true })
  const url = new URL(input.url)
  let sentHeaders: Record<string, string> = { host: url.host, ...input.headers }
  const result = (r: Partial<SendResult>): SendResult => ({
    statusCode: null,
    error: null,
    errorMessage: null,
    responseBody: null,
    retryAfterSeconds: null,
    sentHeaders,
    durationMs: Math.round(performance.now() - started),
    aborted: false,
    ...r,
  })
  try {
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true })
    })
    const target = await Promise.race([vetUrl(url, input.allowPrivate, input.resolve ?? systemResolver), aborted])
    sentHeaders = { host: target.host, ...input.headers }
    const hostname = url.hostname.replace(/^\[|\]$/g, '')
    const res = await fetch(target.pinnedUrl, {
      method: 'POST',
      headers: sentHeaders,
      body: input.body,
      redirect: 'manual',
      signal: controller.signal,
      // The connection goes to the vetted address; the certificate is still checked against the name.
      tls: ipFamily(hostname) ? undefined : { serverName: hostname },
    })
    const responseBody = await readHead(res)
    const status = res.status
    const ok = status >= 200 && status < 300
    return result({
      statusCode: status,
      error: ok ? null : 'http',
      errorMessage: ok ? null : status >= 300 && status < 400 ? `redirect to ${res.headers.get('location') ?? '?'} not followed` : `HTTP ${status}`,
      responseBody,
      retryAfterSeconds: status === 429 || status === 503 ? parseRetryAfter(res.headers.get('retry-after'), input.nowMs) : null,
    })
  } catch (err) {
    if (input.signal?.aborted) return result({ aborted: true, error: 'timeout', errorMessage: 'stopped before an answer' })
    if (err instanceof TargetRefusedError) {
      return result({ error: err.kind === 'dns' ? 'dns' : 'refused', errorMessage: err.kind === 'blocked' ? `blocked: ${err.message}` : err.message })
    }
    const e = err as { message?: string }
    return result({ error: classifyError(err), errorMessage: String(e?.message ?? err).slice(0, 500) })
  } finally {
    clearTimeout(timer)
    input.signal?.removeEventListener('abort', onOuterAbort)
  }
}
