/**
 * The realtime channels, served by Bun's own WebSocket support (Bun.serve's `websocket` option;
 * Elysia's .ws needs app.listen, which we do not use). Two endpoints:
 * - `/v1/widget/ws?session_id=&site_key=&anon_id=|visitor_key=`: one visitor's chat. Authorized
 *   like the widget's HTTP endpoints, so nobody can listen to another visitor's session.
 * - `/v1/agent/ws?token=mlc_...` (or a bearer header): every chat event of the token's site, for
 *   agents' inboxes. Any scope may listen; a publishable key may not. A token revoked later is
 *   noticed by `revalidate` (run by the server every second) and its sockets are closed (1008).
 * Frames are JSON: first `{ type: "hello", ... }`, then the hub's events, published on this
 * instance or (with Redis) any other, and `{"type":"resync"}` when events may have been missed
 * (src/shared/fanout-redis.ts). A client may send `ping` (or `{"type":"ping"}`) and gets `{"type":"pong"}`.
 * Each credential holds at most MLC_WS_MAX_PER_CREDENTIAL sockets at once (an API token; a
 * visitor, by the anonymous id or visitor key their session was opened with): one token must not
 * be able to hold hundreds of sockets that each receive every event. Every upgrade attempt writes
 * one access-log line, like a request.
 */
import type { Server, ServerWebSocket, WebSocketHandler } from 'bun'
import type { ChatContext } from '../chat/context'
import { type RealtimeClient, sessionTopic, siteTopic } from '../chat/realtime'
import { sessionOf, visitorSession } from '../chat/sessions'
import { ApiError, ForbiddenError, RateLimitedError, UnauthorizedError } from '../errors'
import { type Logger, redactUrl } from '../log'
import { authenticateWidget, type WidgetGuardDeps } from '../modules/widget/guard'
import { newRequestId } from '../random'
import { ConnectionSlots } from '../ratelimit/connection-slots'
import { credentialOf, identify } from './auth'
import type { Authenticator } from './authenticator'
import { CORS_HEADERS, REQUEST_ID_HEADER } from './headers'
import { errorResponse } from './platform'
import { pathAndQuery } from './url-path'

/** Paths answered by the gateway instead of the app. */
export const WS_PATHS = new Set(['/v1/widget/ws', '/v1/agent/ws'])

/** What each connection carries. */
export interface SocketData {
  kind: 'visitor' | 'agent'
  siteId: number
  topics: string[]
  hello: Record<string, unknown>
  /** The agent's API token, re-checked so a revoked token stops listening. */
  credential?: string
  /** The agent's API token id (for the access log). */
  tokenId?: number
  /** Gives back the socket's slot under its credential's cap; called when the socket closes. */
  release?: () => void
}

/** How long a client refused for holding too many sockets is told to wait before trying again. */
export const SOCKET_CAP_RETRY_AFTER_S = 10

/** The 429 for an upgrade past the per-credential socket cap. `holder` names who holds them. */
export function tooManySockets(holder: string, max: number): RateLimitedError {
  return new RateLimitedError(
    `${holder} already has ${max} open WebSocket connections, the most allowed (MLC_WS_MAX_PER_CREDENTIAL); close one, then connect again.`,
    SOCKET_CAP_RETRY_AFTER_S,
  )
}

/**
 * Writes the access-log line of one upgrade attempt, with the fields of a request's line (status
 * 101 when it became a socket); the path goes through `redactUrl`, as credentials ride in it.
 */
export function logUpgrade(
  logger: Logger,
  request: Request,
  o: { requestId: string; status: number; started: number; tokenId: number | null; ip: string },
): void {
  if (!logger.enabled('info')) return
  logger.access({
    request_id: o.requestId,
    method: request.method,
    path: redactUrl(pathAndQuery(request.url)),
    status: o.status,
    duration_ms: Math.round((performance.now() - o.started) * 100) / 100,
    token_id: o.tokenId,
    ip: o.ip,
  })
}

/** 426: the endpoint speaks WebSocket only. */
class UpgradeRequiredError extends ApiError {
  constructor() {
    super(426, 'upgrade_required', 'This endpoint speaks WebSocket: connect with a WebSocket client (Upgrade: websocket).', undefined, { upgrade: 'websocket' })
  }
}

export interface WebSocketGatewayDeps extends Omit<WidgetGuardDeps, 'clientIp'> {
  chat: ChatContext
  authenticator: Authenticator
}

/** Builds the gateway: `upgrade` for Bun.serve's fetch, `websocket` for its option of that name. */
export function createWebSocketGateway(deps: WebSocketGatewayDeps) {
  const sockets = new Set<ServerWebSocket<SocketData>>()
  const slots = new ConnectionSlots(deps.config.wsMaxPerCredential)
  // The app's logger (the chat context carries the one createApp was given).
  const logger = deps.chat.logger

  /** The socket's data, and the key and wording of the cap it counts against. */
  async function authorize(
    request: Request,
    url: URL,
    ip: string,
    headers: Record<string, unknown>,
  ): Promise<{ data: SocketData; slot: string; holder: string }> {
    const query = Object.fromEntries(url.searchParams)
    if (url.pathname === '/v1/widget/ws') {
      const caller = await authenticateWidget({ ...deps, clientIp: () => ip }, request, { query }, headers)
      const session = await visitorSession(deps.chat, caller.site.id, query.session_id ?? '', { anonId: caller.anonId, visitorKey: caller.visitorKey })
      const s = await sessionOf(deps.chat, session.seq)
      // The visitor is who the session belongs to: its anonymous id, else its visitor key.
      const visitor = session.anon_id !== null ? `a:${session.anon_id}` : `k:${session.visitor_key}`
      return {
        data: {
          kind: 'visitor',
          siteId: caller.site.id,
          topics: [sessionTopic(session.id)],
          hello: { type: 'hello', session_id: session.id, status: s.status, handoff_reason: s.handoff_reason },
        },
        slot: `visitor:${caller.site.id}:${visitor}`,
        holder: 'This visitor',
      }
    }
    const failKey = `authfail:${ip}`
    const peeked = deps.buckets.peek(failKey, deps.config.authFailuresPerMinute)
    const fail = peeked instanceof Promise ? await peeked : peeked
    if (!fail.allowed) throw new RateLimitedError('Too many failed authentication attempts from this address.', fail.retryAfterSeconds)
    const raw = credentialOf(request, query.token)
    // A failure is counted as the API's auth counts it (see `identify`).
    const principal = await identify(deps, raw, failKey, deps.config.authFailuresPerMinute)
    if (!principal) throw new UnauthorizedError(raw === null ? undefined : 'The API token is unknown or revoked.')
    if (principal.kind !== 'token') throw new ForbiddenError('The agent channel needs an API token of the site (read scope is enough), not a publishable key.')
    return {
      data: {
        kind: 'agent',
        siteId: principal.siteId,
        topics: [siteTopic(principal.siteId)],
        hello: { type: 'hello', site_id: principal.siteId },
        credential: raw as string,
        tokenId: principal.tokenId ?? undefined,
      },
      slot: `token:${principal.tokenId}`,
      holder: 'This API token',
    }
  }

  /** Upgrades a request from `ip` to one of the channels; resolves with the error response when it cannot. */
  async function upgrade(request: Request, server: Server<SocketData>, ip: string): Promise<Response | undefined> {
    const started = performance.now()
    const requestId = newRequestId()
    const headers: Record<string, unknown> = { ...CORS_HEADERS, [REQUEST_ID_HEADER]: requestId }
    // Anything thrown that is not ours ends in the server's 500; the log line says so.
    let status = 500
    let tokenId: number | null = null
    try {
      const url = new URL(request.url)
      const { data, slot, holder } = await authorize(request, url, ip, headers)
      tokenId = data.tokenId ?? null
      if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') throw new UpgradeRequiredError()
      // Taken here and given back on close (or below, when the handshake fails).
      const release = slots.acquire(slot)
      if (!release) throw tooManySockets(holder, slots.max)
      data.release = release
      const plain: Record<string, string> = {}
      for (const [k, v] of Object.entries(headers)) plain[k] = String(v)
      if (server.upgrade(request, { data, headers: plain })) {
        status = 101
        return undefined
      }
      release()
      throw new UpgradeRequiredError()
    } catch (err) {
      if (!(err instanceof ApiError)) throw err
      status = err.status
      return errorResponse(err, headers, requestId)
    } finally {
      logUpgrade(logger, request, { requestId, status, started, tokenId, ip })
    }
  }

  const websocket: WebSocketHandler<SocketData> = {
    idleTimeout: 120,
    sendPings: true,
    // Clients only ever send pings; anything big is abuse.
    maxPayloadLength: 4096,
    open(ws) {
      sockets.add(ws)
      for (const topic of ws.data.topics) deps.chat.hub.subscribe(topic, ws as RealtimeClient)
      ws.send(JSON.stringify(ws.data.hello))
    },
    message(ws, message) {
      const text = typeof message === 'string' ? message : Buffer.from(message).toString()
      if (text === 'ping' || text.replace(/\s/g, '') === '{"type":"ping"}') ws.send('{"type":"pong"}')
    },
    close(ws) {
      sockets.delete(ws)
      for (const topic of ws.data.topics) deps.chat.hub.unsubscribe(topic, ws as RealtimeClient)
      // Every socket's slot comes back here, the dashboard's live sockets' too (live.ts wraps this handler).
      ws.data.release?.()
    },
  }

  return {
    upgrade,
    websocket,
    /** Open connections. */
    get connections() {
      return sockets.size
    },
    /** Sockets held by one API token (tests, diagnostics). */
    socketsOfToken(tokenId: number): number {
      return slots.count(`token:${tokenId}`)
    },
    /** Closes agent connections whose token was revoked (or site deleted) since they connected; resolves with how many. */
    async revalidate(): Promise<number> {
      let closed = 0
      // A copy: sockets close (and leave the set) while a lookup awaits.
      for (const ws of [...sockets]) {
        if (ws.data.kind !== 'agent' || !ws.data.credential) continue
        const p = await deps.authenticator.resolve(ws.data.credential)
        if (p && p.siteId === ws.data.siteId) continue
        if (!sockets.has(ws)) continue
        ws.close(1008, 'token revoked')
        closed++
      }
      return closed
    },
    /** Closes every connection (shutdown), with close code 1001 "going away". */
    closeAll() {
      for (const ws of sockets) ws.close(1001, 'server shutting down')
    },
  }
}
export type WebSocketGateway = ReturnType<typeof createWebSocketGateway>
