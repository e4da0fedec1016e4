/**
 * createApp: wires the platform plugin, auth and every feature module over one store, and puts
 * a thin front before Elysia for what must happen before routing (CORS preflight, the liveness
 * probe, the legacy URL form, client address, access log).
 */
import type { Server } from 'bun'
import { Elysia } from 'elysia'
import { createChatContext } from './chat/context'
import type { Clock } from './clock'
import type { Config } from './config'
import { createDashboard, isDashboardUrl } from './dashboard'
import { isLiveUrl } from './dashboard/live'
import type { Store } from './db/store'
import { ApiError } from './errors'
import { createAuthPlugin } from './http/auth'
import { Authenticator } from './http/authenticator'
import { createClientAddress } from './http/client-address'
import type { ModuleDeps } from './http/deps'
import { CORS_HEADERS, PREFLIGHT_HEADERS, REQUEST_ID_HEADER } from './http/headers'
import { Idempotency } from './http/idempotency'
import { canonicalUrl } from './http/legacy-url'
import { createPlatformPlugin, errorResponse } from './http/platform'
import { attachClientAddress, attachPrincipal, clientAddressOf, principalOf, requestIdOf } from './http/request-state'
import { routableRequest } from './http/request-target'
import { RouteTable } from './http/route-table'
import { pathAndQuery, pathIs, pathStart } from './http/url-path'
import { createWebSocketGateway, type SocketData, WS_PATHS } from './http/websocket'
import type { Logger } from './log'
import { redactUrl } from './log'
import { createPlatformMetrics, type PlatformMetrics, ResourceClassifier, registerWebhookGauges } from './metrics/platform'
import { assetsModule } from './modules/assets'
import { chatSettingsModule } from './modules/chat-settings'
import { conversationStartersModule } from './modules/conversation-starters'
import { eventsModule } from './modules/events'
import { feedbackModule } from './modules/feedback'
import { handoffsModule } from './modules/handoffs'
import { kbArticlesModule } from './modules/kb-articles'
import { messagesModule } from './modules/messages'
import { type Lifecycle, metricsModule, readyzModule } from './modules/ops'
import { segmentsModule } from './modules/segments'
import { sessionsModule } from './modules/sessions'
import { siteSettingsModule } from './modules/site-settings'
import { healthModule, healthResponse, legacyFallbackModule, openapiModule } from './modules/system'
import type { RouteInfo } from './modules/system/openapi-document'
import { tagsModule } from './modules/tags'
import { UsageCounter } from './modules/tokens/usage-counter'
import { trackModule } from './modules/track'
import { transcriptsModule } from './modules/transcripts'
import { usageModule } from './modules/usage'
import { visitorsModule } from './modules/visitors'
import { webhookDeliveriesModule } from './modules/webhook_deliveries'
import { webhookSubscriptionsModule } from './modules/webhook_subscriptions'
import { whoamiModule } from './modules/whoami'
import { widgetModule } from './modules/widget'
import { newRequestId } from './random'
import { TokenBuckets } from './ratelimit/token-bucket'
import type { Fanout } from './shared/fanout'
import type { RateLimiter } from './shared/rate-limit'
import { COMMIT } from './version'
import { createIdleDispatcher, type WebhookDispatcher } from './webhooks/dispatcher'

export interface AppDeps {
  config: Config
  store: Store
  clock: Clock
  logger: Logger
  /** The webhook worker's handle (the server starts one); without it events wait in the outbox. */
  webhooks?: WebhookDispatcher
  /** The metrics registry (the server creates it first so the webhook worker can count into it). */
  metrics?: PlatformMetrics
  /** The rate limiter every limit uses (the server's Redis one with MLC_REDIS_URL); `buckets`, in this process, when omitted. */
  limiter?: RateLimiter
  /** Carries live-chat events to the other instances (the server's Redis fan-out); in-process when omitted. */
  fanout?: Fanout
}

/** Public base URL: the configured one, else derived from host and port. */
export function publicUrlOf(config: Config): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/$/, '')
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
  return `http://${host}:${config.port}`
}

/** Builds the application. The returned `handle` is what Bun.serve (and tests) call. */
export function createApp(deps: AppDeps) {
  const { config, store, clock, logger } = deps
  const clientAddress = createClientAddress(config.trustProxy)
  // In this process (checkpointed by the server); the limits themselves go through `limiter`.
  const buckets = new TokenBuckets(clock)
  const limiter = deps.limiter ?? buckets
  const usage = new UsageCounter(store, clock)
  const authenticator = new Authenticator(store, clock)
  const idempotency = new Idempotency({ store, clock, logger, ttlSeconds: config.idempotencyTtl })
  const auth = createAuthPlugin({
    authenticator,
    buckets: limiter,
    usage,
    clock,
    authFailuresPerMinute: config.authFailuresPerMinute,
    clientIp: clientAddressOf,
    onPrincipal: attachPrincipal,
    idempotency,
  })
  const webhooks = deps.webhooks ?? createIdleDispatcher(store, clock)
  const metrics = deps.metrics ?? createPlatformMetrics({ commit: COMMIT, startedMs: clock.now() })
  registerWebhookGauges(metrics, () => webhooks.status())
  const lifecycle: Lifecycle = { draining: false }
  const clientIp = clientAddressOf
  const chat = createChatContext({ config, store, clock, logger, wakeWebhooks: () => webhooks.wake(), metrics, fanout: deps.fanout })
  const moduleDeps: ModuleDeps = { config, store, clock, logger, auth, buckets: limiter, usage, webhooks, metrics, chat, clientIp, idempotency }
  const realtime = createWebSocketGateway({ config, store, clock, buckets: limiter, chat, authenticator })
  const dashboard = createDashboard({ ...moduleDeps, publicUrl: publicUrlOf(config) })

  let routeTable: RouteTable | null = null
  const routes = () => {
    routeTable ??= new RouteTable(app.routes)
    return routeTable
  }
  // Every route, for the OpenAPI document (read on its first request, once all modules are in).
  const appRoutes = (): readonly RouteInfo[] => app.routes

  const app = new Elysia({ aot: true })
    .use(createPlatformPlugin({ logger, routes }))
    .use(healthModule())
    .use(readyzModule({ store, clock, logger, webhooks, lifecycle }))
    .use(metricsModule({ config, metrics }))
    .use(openapiModule(publicUrlOf(config), appRoutes))
    .use(legacyFallbackModule(() => routes().resources))
    .use(whoamiModule(moduleDeps))
    .use(tagsModule(moduleDeps))
    .use(webhookSubscriptionsModule(moduleDeps))
    .use(webhookDeliveriesModule(moduleDeps))
    .use(eventsModule(moduleDeps))
    .use(visitorsModule(moduleDeps))
    .use(trackModule(moduleDeps))
    .use(segmentsModule(moduleDeps))
    .use(conversationStartersModule(moduleDeps))
    .use(siteSettingsModule(moduleDeps))
    .use(assetsModule(moduleDeps))
    .use(kbArticlesModule(moduleDeps))
    .use(sessionsModule(moduleDeps))
    .use(messagesModule(moduleDeps))
    .use(handoffsModule(moduleDeps))
    .use(transcriptsModule(moduleDeps))
    .use(usageModule(moduleDeps))
    .use(feedbackModule(moduleDeps))
    .use(chatSettingsModule(moduleDeps))
    .use(widgetModule(moduleDeps))

  const classifier = new ResourceClassifier(() => app.routes, ['dashboard'])

  /**
   * Handles one request. `socketIp` is the peer address of the connection; the client address is
   * that, or with MLC_TRUST_PROXY the address your proxy put in X-Forwarded-For.
   */
  async function handle(request: Request, socketIp = '127.0.0.1'): Promise<Response> {
    const started = performance.now()
    let req: Request
    try {
      req = routableRequest(request)
    } catch (err) {
      return finish(request, request, refuse(err), started, clientAddress(request, socketIp))
    }
    return route(request, req, clientAddress(req, socketIp), started)
  }

  /** Answers a request whose URL is routable (`req`; `request` is what the client sent, for the log). */
  async function route(request: Request, req: Request, ip: string, started: number): Promise<Response> {
    if (req.method === 'OPTIONS') {
      return new Response(null, { status: 204, headers: { ...PREFLIGHT_HEADERS, [REQUEST_ID_HEADER]: newRequestId() } })
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && pathIs(req.url, '/healthz')) {
      return finish(request, req, healthResponse(newRequestId(), req.method), started, ip)
    }
    if (req.url.includes('.ashx')) {
      const canonical = canonicalUrl(req.url)
      if (canonical) req = new Request(canonical, req)
    }
    attachClientAddress(req, ip)
    let response: Response
    try {
      response = isDashboardUrl(req.url) ? await dashboard.handle(req, ip) : await app.handle(req)
    } catch (err) {
      // No response to store for the request's Idempotency-Key: a retry must run again.
      await idempotency.abandon(req)
      throw err
    }
    // Elysia answers HEAD through the GET route with Content-Length set to that answer's body: on a
    // 304 it would be 0, not the length of the 200 it stands for (RFC 9110 8.6), so it goes.
    if (req.method === 'HEAD' && response.status === 304) response.headers.delete('content-length')
    // Stored with the request's Idempotency-Key first when it claimed one (src/http/idempotency.ts).
    const answered = idempotency.finish(req, response)
    return finish(request, req, answered instanceof Response ? answered : await answered, started, ip)
  }

  /**
   * Bun.serve's `fetch`: the realtime channels are upgraded here, before Elysia (see
   * src/http/websocket.ts); everything else is routed as `handle` does. Undefined means upgraded.
   */
  function serve(request: Request, server: Server<SocketData>): Response | Promise<Response | undefined> | undefined {
    const started = performance.now()
    const socketIp = server.requestIP(request)?.address
    let req: Request
    try {
      req = routableRequest(request)
    } catch (err) {
      return finish(request, request, refuse(err), started, clientAddress(request, socketIp))
    }
    const ip = clientAddress(req, socketIp)
    if (req.method === 'GET') {
      const start = pathStart(req.url)
      const query = req.url.indexOf('?', start)
      if (WS_PATHS.has(req.url.slice(start, query < 0 ? undefined : query))) return realtime.upgrade(req, server, ip)
      // The dashboard inbox's live channel: the same sockets, authorized by the session cookie.
      if (isLiveUrl(req.url)) return dashboard.live.upgrade(req, server, ip)
    }
    return route(request, req, ip, started)
  }

  /** Counts, times and logs an answered request. */
  function finish(request: Request, req: Request, response: Response, started: number, ip: string): Response {
    const resource = classifier.classify(req.url)
    const status = response.status
    metrics.requests.inc([resource, status])
    metrics.latency.observe([resource], (performance.now() - started) / 1000)
    if (status === 429) metrics.rateLimited.inc([resource])
    if (logger.enabled('info')) {
      logger.access({
        request_id: requestIdOf(req) ?? response.headers.get(REQUEST_ID_HEADER),
        method: request.method,
        path: redactUrl(pathAndQuery(request.url)),
        status: response.status,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
        token_id: principalOf(req)?.tokenId ?? null,
        ip,
      })
    }
    return response
  }

  /** The envelope for an error met before routing (the platform plugin answers the rest). */
  function refuse(err: unknown): Response {
    if (!(err instanceof ApiError)) throw err
    const requestId = newRequestId()
    return errorResponse(err, { ...CORS_HEADERS, [REQUEST_ID_HEADER]: requestId }, requestId)
  }

  return { elysia: app, handle, serve, clientAddress, buckets, limiter, usage, authenticator, routes, webhooks, metrics, lifecycle, dashboard, chat, realtime }
}
export type App = ReturnType<typeof createApp>
