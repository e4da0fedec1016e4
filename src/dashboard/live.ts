/**
 * The inbox's live channel: a WebSocket at /dashboard/ws?site=ID, authorized by the dashboard
 * session cookie (not an API token), subscribed to the site's chat events on the realtime hub.
 * It rides on the server's one WebSocket handler (src/http/websocket.ts): the upgrade builds the
 * same socket data an agent socket has, plus the dashboard session id, so signing out (or the
 * session expiring) closes the socket too. A session holds at most MLC_WS_MAX_PER_CREDENTIAL
 * sockets (429 past that); refusals are the API's error envelope, and every upgrade attempt
 * writes one access-log line. Signing out closes the session's sockets on every instance: the
 * hub carries the sign-out to the others (a control message over the fan-out).
 */
import type { Server, ServerWebSocket, WebSocketHandler } from 'bun'
import { type RealtimeHub, siteTopic } from '../chat/realtime'
import type { Clock } from '../clock'
import type { Store } from '../db/store'
import { ApiError, ForbiddenError, NotFoundError, UnauthorizedError } from '../errors'
import { REQUEST_ID_HEADER } from '../http/headers'
import { errorResponse } from '../http/platform'
import { logUpgrade, type SocketData, tooManySockets } from '../http/websocket'
import type { Logger } from '../log'
import { newRequestId } from '../random'
import { ConnectionSlots } from '../ratelimit/connection-slots'
import { adminCanSee } from './accounts'
import { cookiesOf, DASHBOARD, SESSION_COOKIE } from './kit'
import type { DashboardSessions } from './sessions'

export const LIVE_PATH = `${DASHBOARD}/ws`

/** The hub control message that closes a signed-out dashboard session's sockets on every instance. */
const SESSION_ENDED = 'dashboard-session-ended'

/** Socket data of a dashboard socket: an agent socket that remembers its dashboard session. */
export type LiveSocketData = SocketData & { dashboardSessionId?: string; dashboardExpiresMs?: number }

/** True when a request URL is the live channel (checked without parsing the URL). */
export function isLiveUrl(url: string): boolean {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start < 0 || !url.startsWith(LIVE_PATH, start)) return false
  const next = url.charAt(start + LIVE_PATH.length)
  return next === '' || next === '?'
}

/** Builds the live channel over the dashboard's sessions. */
export function createLiveChannel(deps: {
  sessions: DashboardSessions
  store: Store
  clock: Clock
  logger: Logger
  /** Open sockets allowed per dashboard session (MLC_WS_MAX_PER_CREDENTIAL). */
  maxPerSession: number
  /** The realtime hub: a sign-out on any instance closes the session's sockets on this one too. */
  hub?: RealtimeHub
}) {
  const bySession = new Map<string, Set<ServerWebSocket<LiveSocketData>>>()
  const timers = new WeakMap<object, ReturnType<typeof setTimeout>>()
  const slots = new ConnectionSlots(deps.maxPerSession)

  /** Closes this instance's live sockets of a dashboard session. */
  function closeSession(sessionId: string): void {
    for (const ws of bySession.get(sessionId) ?? []) ws.close(4001, 'signed out')
    bySession.delete(sessionId)
  }
  deps.hub?.onControl(SESSION_ENDED, closeSession)

  /**
   * Upgrades a signed-in admin's request for a site they may see; the error envelope otherwise.
   * `ip` is the client address (the socket's peer when not given).
   */
  async function upgrade(request: Request, server: Server<LiveSocketData>, ip?: string): Promise<Response | undefined> {
    const started = performance.now()
    const requestId = newRequestId()
    const client = ip ?? server.requestIP(request)?.address ?? 'unknown'
    // Anything thrown that is not ours ends in the server's 500; the log line says so.
    let status = 500
    try {
      const url = new URL(request.url)
      // Browsers always send Origin on a WebSocket handshake: refuse pages of other origins (and
      // an Origin that is no URL at all, which no page of ours sends).
      const origin = request.headers.get('origin')
      if (origin && URL.parse(origin)?.host !== url.host) throw new ForbiddenError('This channel is only for the dashboard itself.')
      const who = await deps.sessions.read(cookiesOf(request).get(SESSION_COOKIE))
      if (!who) throw new UnauthorizedError('Sign in to the dashboard first.')
      const siteId = Number(url.searchParams.get('site'))
      if (!Number.isInteger(siteId) || siteId < 1 || !(await adminCanSee(deps.store, who.admin, siteId)))
        throw new NotFoundError(`You have no site with id ${url.searchParams.get('site')}.`, 'site')
      if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket')
        throw new ApiError(426, 'upgrade_required', 'Connect with a WebSocket client.', undefined, { upgrade: 'websocket' })
      // Taken after the last await, in the same step as the upgrade: parallel handshakes cannot
      // all pass the cap. Given back when the socket closes (the gateway's close), or below.
      const release = slots.acquire(who.session.id)
      if (!release) throw tooManySockets('This dashboard session', slots.max)
      const data: LiveSocketData = {
        kind: 'agent',
        siteId,
        topics: [siteTopic(siteId)],
        hello: { type: 'hello', site_id: siteId },
        dashboardSessionId: who.session.id,
        dashboardExpiresMs: who.session.expires_ms,
        release,
      }
      if (server.upgrade(request, { data, headers: { [REQUEST_ID_HEADER]: requestId } })) {
        status = 101
        return undefined
      }
      release()
      throw new ApiError(426, 'upgrade_required', 'Connect with a WebSocket client.')
    } catch (err) {
      if (!(err instanceof ApiError)) throw err
      status = err.status
      // No CORS headers: this channel is for the dashboard's own pages only.
      return errorResponse(err, { [REQUEST_ID_HEADER]: requestId }, requestId)
    } finally {
      logUpgrade(deps.logger, request, { requestId, status, started, tokenId: null, ip: client })
    }
  }

  /** The server's WebSocket handler, with dashboard sockets tracked per session. */
  function track<T extends SocketData>(inner: WebSocketHandler<T>): WebSocketHandler<T> {
    return {
      ...inner,
      open(ws) {
        const data = ws.data as LiveSocketData
        if (data.dashboardSessionId) {
          const sid = data.dashboardSessionId
          const set = bySession.get(sid) ?? new Set()
          set.add(ws as unknown as ServerWebSocket<LiveSocketData>)
          bySession.set(sid, set)
          const left = (data.dashboardExpiresMs ?? 0) - deps.clock.now()
          // The session's end closes the socket (timers are capped by the runtime at ~24 days).
          timers.set(
            ws,
            setTimeout(() => ws.close(4001, 'session expired'), Math.max(0, Math.min(left, 2 ** 31 - 1))),
          )
        }
        return inner.open?.(ws)
      },
      close(ws, code, reason) {
        const sid = (ws.data as LiveSocketData).dashboardSessionId
        clearTimeout(timers.get(ws))
        if (sid) {
          const set = bySession.get(sid)
          set?.delete(ws as unknown as ServerWebSocket<LiveSocketData>)
          if (set?.size === 0) bySession.delete(sid)
        }
        return inner.close?.(ws, code, reason)
      },
    }
  }

  return {
    upgrade,
    track,
    /** Closes the live sockets of a dashboard session (on sign-out), on every instance. */
    endSession(sessionId: string): void {
      if (deps.hub) deps.hub.control(SESSION_ENDED, sessionId)
      else closeSession(sessionId)
    },
    /** Open dashboard sockets (tests). */
    get connections(): number {
      let n = 0
      for (const s of bySession.values()) n += s.size
      return n
    },
  }
}
export type LiveChannel = ReturnType<typeof createLiveChannel>
