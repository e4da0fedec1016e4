/**
 * The dashboard: server-rendered pages under /dashboard, served by the same binary as the API.
 * It is its own small Elysia app behind the server's front (not inside the API app) because its
 * conventions differ: HTML instead of the JSON envelope, form bodies instead of JSON, cookies
 * instead of bearer tokens, and no CORS.
 */
import { Elysia } from 'elysia'
import { ApiError } from '../errors'
import { pathStart } from '../http/url-path'
import { newRequestId } from '../random'
import { assetResponse } from './assets'
import { html } from './html'
import {
  DASHBOARD,
  type DashboardDeps,
  errorBox,
  htmlResponse,
  type Kit,
  type NavItem,
  publicPage,
  redirect,
  SignInRequired,
  securityHeaders,
  TOKENS_PATH,
} from './kit'
import { createLiveChannel } from './live'
import { accountRoutes } from './pages/account'
import { INBOX_PATH, inboxRoutes } from './pages/inbox'
import { KB_PATH, kbRoutes } from './pages/kb'
import { SEGMENTS_PATH, segmentRoutes } from './pages/segments'
import { SETTINGS_PATH, settingsRoutes } from './pages/settings'
import { STARTERS_PATH, starterRoutes } from './pages/starters'
import { TAGS_PATH, tagRoutes } from './pages/tags'
import { tokenRoutes } from './pages/tokens'
import { USAGE_PATH, usageRoutes } from './pages/usage'
import { VISITORS_PATH, visitorRoutes } from './pages/visitors'
import { WEBHOOKS_PATH, webhookRoutes } from './pages/webhooks'
import { DashboardSessions } from './sessions'

export type { DashboardDeps } from './kit'

/** Largest form body accepted (the API's limit). */
const MAX_FORM_BYTES = 1024 * 1024

/** The navigation, in the order shown. */
const NAV: NavItem[] = [
  { href: TOKENS_PATH, label: 'API tokens' },
  { href: INBOX_PATH, label: 'Inbox' },
  { href: WEBHOOKS_PATH, label: 'Webhooks' },
  { href: VISITORS_PATH, label: 'Visitors' },
  { href: SEGMENTS_PATH, label: 'Segments' },
  { href: STARTERS_PATH, label: 'Starters' },
  { href: KB_PATH, label: 'Knowledge base' },
  { href: TAGS_PATH, label: 'Tags' },
  { href: USAGE_PATH, label: 'Usage' },
  { href: SETTINGS_PATH, label: 'Settings' },
]

/** True for the server root, which sends browsers to the dashboard. */
function isRoot(url: string): boolean {
  const start = pathStart(url)
  return start < 0 || start === url.length - 1 || url.charAt(start + 1) === '?'
}

/** True when a request URL is under /dashboard, or is the root (checked without parsing the URL). */
export function isDashboardUrl(url: string): boolean {
  if (isRoot(url)) return true
  const start = pathStart(url)
  if (!url.startsWith(DASHBOARD, start)) return false
  const next = url.charAt(start + DASHBOARD.length)
  return next === '' || next === '/' || next === '?'
}

/** Builds the dashboard. `handle(request, ip)` answers any /dashboard URL. */
export function createDashboard(deps: DashboardDeps) {
  const ips = new WeakMap<Request, string>()
  const requestIds = new WeakMap<Request, string>()
  const sessions = new DashboardSessions(deps.store, deps.clock, deps.config.dashboardSessionTtl * 1000)
  const live = createLiveChannel({
    sessions,
    store: deps.store,
    clock: deps.clock,
    logger: deps.logger,
    maxPerSession: deps.config.wsMaxPerCredential,
    hub: deps.chat.hub,
  })
  const kit: Kit = {
    deps,
    sessions,
    live,
    nav: NAV,
    ip: (request) => ips.get(request) ?? 'unknown',
  }

  // The pages are built on the first dashboard request: a server may run for days without one,
  // and building them took ~4 ms of every start.
  let pages: ReturnType<typeof buildPages> | null = null

  return {
    kit,
    /** The inbox's WebSocket: `upgrade` for the server's fetch, `track` around its websocket handler. */
    live,
    /** Answers one /dashboard request; `ip` is the client address as the server saw it. */
    async handle(request: Request, ip: string): Promise<Response> {
      const requestId = newRequestId()
      ips.set(request, ip)
      requestIds.set(request, requestId)
      // Someone opening the server's address in a browser lands on the dashboard.
      pages ??= buildPages(kit, requestIds)
      const response = isRoot(request.url) ? redirect(`${DASHBOARD}/`) : await pages.handle(request)
      for (const [k, v] of Object.entries(securityHeaders(requestId))) if (!response.headers.has(k)) response.headers.set(k, v)
      return response
    },
  }
}
export type Dashboard = ReturnType<typeof createDashboard>

/** The dashboard's pages as one Elysia app under /dashboard: form parsing, error pages, every page's routes. */
function buildPages(kit: Kit, requestIds: WeakMap<Request, string>) {
  const { deps } = kit
  return new Elysia({ prefix: DASHBOARD })
    .onParse(async ({ request }) => {
      const declared = Number(request.headers.get('content-length') ?? 0)
      if (declared > MAX_FORM_BYTES) throw new ApiError(413, 'payload_too_large', 'The form is larger than 1 MiB.')
      const text = await request.text()
      if (text.length > MAX_FORM_BYTES) throw new ApiError(413, 'payload_too_large', 'The form is larger than 1 MiB.')
      // Forms are urlencoded; anything else (a script's JSON) is read as no fields.
      const type = request.headers.get('content-type') ?? ''
      return type.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(text) : new URLSearchParams()
    })
    .onError(({ code, error, request }) => {
      const cause = (error as { cause?: unknown })?.cause
      const err = error instanceof ApiError ? error : cause instanceof ApiError ? cause : null
      if (error instanceof SignInRequired) {
        const signedOutBefore = /(?:^|;\s*)mlc_session=/.test(request.headers.get('cookie') ?? '')
        return redirect(`${DASHBOARD}/sign-in?next=${encodeURIComponent(error.next)}${signedOutBefore ? '&expired=1' : ''}`)
      }
      if (err) return htmlResponse(publicPage('Refused', html`<h1>${titleFor(err.status)}</h1>${errorBox(err)}${backLinks()}`), err.status, err.headers)
      if (code === 'NOT_FOUND') {
        return htmlResponse(publicPage('Not found', html`<h1>Page not found</h1><p>There is no dashboard page at this address.</p>${backLinks()}`), 404)
      }
      const requestId = requestIds.get(request) ?? 'none'
      deps.logger.error('dashboard error', { request_id: requestId, error: String((error as Error)?.message ?? error), stack: (error as Error)?.stack })
      return htmlResponse(
        publicPage(
          'Error',
          html`<h1>Something went wrong</h1><div class="alert error" role="alert">Something went wrong on our side. Quote request id <code>${requestId}</code> when you contact support.</div>${backLinks()}`,
        ),
        500,
      )
    })
    .get(
      '/assets/:name',
      ({ params, request }) => assetResponse(params.name, request.headers.get('if-none-match')) ?? new Response('Not found', { status: 404 }),
    )
    .use(accountRoutes(kit))
    .use(tokenRoutes(kit))
    .use(tagRoutes(kit))
    .use(webhookRoutes(kit))
    .use(inboxRoutes(kit))
    .use(kbRoutes(kit))
    .use(usageRoutes(kit))
    .use(visitorRoutes(kit))
    .use(segmentRoutes(kit))
    .use(starterRoutes(kit))
    .use(settingsRoutes(kit))
}

function titleFor(status: number): string {
  if (status === 404) return 'Not found'
  if (status === 403) return 'Refused'
  if (status === 429) return 'Too many attempts'
  if (status === 400) return 'That request was not valid'
  return 'Refused'
}

function backLinks() {
  return html`<p><a href="${TOKENS_PATH}">Back to the dashboard</a> · <a href="${DASHBOARD}/sign-in">Sign in</a></p>`
}
