/**
 * What every dashboard page needs: cookies, the signed-in admin and chosen site, the CSRF check,
 * the page layout, redirects and error wording. Pages are thin: they call the same services the
 * API calls and render the result.
 */
import type { Static, TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { SiteRow } from '../db/rows'
import { ApiError, BadRequestError, ForbiddenError, NotFoundError } from '../errors'
import type { ModuleDeps } from '../http/deps'
import { REQUEST_ID_HEADER } from '../http/headers'
import { adminCanSee, adminSiteIds } from './accounts'
import { type Html, html, raw } from './html'
import type { LiveChannel } from './live'
import { DashboardSessions, type SignedIn } from './sessions'

export const SESSION_COOKIE = 'mlc_session'
export const PRE_SESSION_COOKIE = 'mlc_presession'
export const DASHBOARD = '/dashboard'
export const TOKENS_PATH = '/dashboard/config_api_tokens.ascx'

/** A link in the navigation bar. */
export interface NavItem {
  href: string
  label: string
}

/** The dashboard's dependencies: the modules' plus the public URL shown in snippets. */
export interface DashboardDeps extends ModuleDeps {
  publicUrl: string
}

/** Shared by every page of one dashboard instance. */
export interface Kit {
  deps: DashboardDeps
  sessions: DashboardSessions
  /** The inbox's live sockets (closed when their session signs out). */
  live: LiveChannel
  nav: NavItem[]
  /** The client address of a request, as the server saw it. */
  ip(request: Request): string
}

/** A signed-in request: the admin, the site being looked at, and the CSRF token for its forms. */
export interface PageContext extends SignedIn {
  kit: Kit
  request: Request
  url: URL
  site: SiteRow
  sites: SiteRow[]
  csrf: string
}

/** Thrown when a page needs a signed-in admin and there is none: the error hook redirects. */
export class SignInRequired extends Error {
  constructor(readonly next: string) {
    super('sign in required')
  }
}

/** The 403 for a form sent without (or with a wrong) CSRF token. */
export class CsrfError extends ForbiddenError {
  constructor() {
    super('This form has expired or did not come from this dashboard. Reload the page and try again.')
  }
}

/**
 * Cookie header as a map, parsed by Bun's CookieMap (RFC 6265 rules, quoted values). Cookies of
 * other software on the same host share the header: one with a malformed percent escape
 * (`analytics=50%`, which CookieMap decodes to U+FFFD) is ignored, never an error for every page.
 */
export function cookiesOf(request: Request): Map<string, string> {
  const out = new Map<string, string>()
  const header = request.headers.get('cookie')
  if (!header) return out
  for (const [name, value] of new Bun.CookieMap(header)) if (!value.includes('\uFFFD')) out.set(name, value)
  return out
}

/** True when the browser reached us over https (directly, or through a trusted proxy, or per the public URL). */
export function isHttps(kit: Kit, request: Request): boolean {
  if (request.url.startsWith('https:')) return true
  if (kit.deps.config.trustProxy && request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim() === 'https') return true
  return kit.deps.publicUrl.startsWith('https:')
}

/** A Set-Cookie value: HttpOnly, SameSite=Lax, Secure over https. `maxAgeS` 0 deletes it. */
export function cookie(kit: Kit, request: Request, name: string, value: string, maxAgeS: number, path = '/'): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, `Path=${path}`, `Max-Age=${maxAgeS}`, 'HttpOnly', 'SameSite=Lax']
  if (isHttps(kit, request)) parts.push('Secure')
  return parts.join('; ')
}

/** A form body as strings (repeated names keep their last value) plus every value of each name. */
export interface Form {
  get(name: string): string
  all(name: string): string[]
  has(name: string): boolean
}

/** Reads a parsed body as a Form (the dashboard's parser yields URLSearchParams). */
export function formOf(body: unknown): Form {
  const params = body instanceof URLSearchParams ? body : new URLSearchParams()
  return {
    get: (name) => params.get(name) ?? '',
    all: (name) => params.getAll(name),
    has: (name) => params.has(name),
  }
}

/** The signed-in context of a request, or SignInRequired. The site comes from `?site=`, else the first the admin sees. */
export async function signedIn(kit: Kit, request: Request): Promise<PageContext> {
  const url = new URL(request.url)
  const who = await kit.sessions.read(cookiesOf(request).get(SESSION_COOKIE))
  if (!who) throw new SignInRequired(url.pathname + url.search)
  const { store } = kit.deps
  const sites: SiteRow[] = []
  for (const id of await adminSiteIds(store, who.admin)) {
    const s = await store.sites.byId(id)
    if (s !== null) sites.push(s)
  }
  const asked = url.searchParams.get('site')
  let site: SiteRow | undefined | null = sites[0]
  if (asked !== null) {
    const id = Number(asked)
    site = Number.isInteger(id) && id > 0 && (await adminCanSee(store, who.admin, id)) ? await store.sites.byId(id) : null
    if (!site) throw new NotFoundError(`You have no site with id ${asked}.`, 'site')
  }
  if (!site) throw new ForbiddenError('Your account is not linked to any site yet. Ask the owner to run `mlc admin create` with --site.')
  return { ...who, kit, request, url, site, sites, csrf: await kit.sessions.csrfFor(who.session.id) }
}

/**
 * Checks form input against the API's own request schema (the single source of truth), so the
 * dashboard accepts exactly what the API accepts; 400 naming the field otherwise.
 */
export function checkInput<S extends TSchema>(schema: S, value: unknown): Static<S> {
  const first = Value.Errors(schema, value).First()
  if (!first) return value as Static<S>
  const path = first.path.replace(/^\//, '').replaceAll('/', '.') || 'body'
  const custom = (first.schema as { error?: unknown }).error
  throw new BadRequestError(typeof custom === 'string' ? custom : `${path}: ${first.message}`, path)
}

/** Refuses a form without the session's CSRF token. */
export function requireCsrf(ctx: PageContext, form: Form): void {
  if (!DashboardSessions.sameToken(ctx.csrf, form.get('csrf'))) throw new CsrfError()
}

/** A dashboard URL that keeps the chosen site. */
export function href(ctx: { site: SiteRow }, path: string, params: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams({ site: String(ctx.site.id) })
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  return `${path}?${q}`
}

/** The hidden CSRF field every changing form carries. */
export function csrfField(ctx: { csrf: string }): Html {
  return html`<input type="hidden" name="csrf" value="${ctx.csrf}">`
}

/** An error message in plain words: first letter capital, ends with a full stop. */
export function plainWords(message: string): string {
  const m = message.trim().replace(/^url\b/, 'URL')
  const capital = m.charAt(0).toUpperCase() + m.slice(1)
  return /[.!?]$/.test(capital) ? capital : `${capital}.`
}

/** An alert box for an error, or nothing. */
export function errorBox(err: unknown): Html {
  if (!err) return html``
  const message = err instanceof ApiError ? plainWords(err.message) : String(err)
  return html`<div class="alert error" role="alert"><strong>That did not work.</strong> ${message}</div>`
}

/** A status box for a finished action, or nothing. */
export function noticeBox(message: string | null | undefined): Html {
  return message ? html`<div class="alert ok" role="status">${message}</div>` : html``
}

/** Headers of every dashboard response. */
export function securityHeaders(requestId: string): Record<string, string> {
  return {
    'content-security-policy':
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    [REQUEST_ID_HEADER]: requestId,
  }
}

/** An HTML response (never cached: pages hold per-user data). */
export function htmlResponse(body: Html, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body.value, {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers },
  })
}

/** A 303 redirect (after a form, so reload does not resend it). */
export function redirect(location: string, headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 303, headers: { location, 'cache-control': 'no-store', ...headers } })
}

function shell(title: string, header: Html, main: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · mlc dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${DASHBOARD}/assets/dashboard.css">
<script src="${DASHBOARD}/assets/dashboard.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
${header}
<main id="main" tabindex="-1">
${main}
</main>
</body>
</html>`
}

/** A page for someone not signed in (sign-in, setup, errors). */
export function publicPage(title: string, body: Html): Html {
  return shell(title, html`<header class="top"><span class="brand">mlc</span></header>`, html`<div class="narrow">${body}</div>`)
}

/** A signed-in page: navigation, site switcher, sign-out, then the body. */
export function page(ctx: PageContext, title: string, body: Html, active: string): Html {
  const nav = ctx.kit.nav.map((n) => html`<li><a href="${href(ctx, n.href)}"${n.href === active ? raw(' aria-current="page"') : ''}>${n.label}</a></li>`)
  const switcher =
    ctx.sites.length > 1
      ? html`<form class="site-switch" method="get" action="${ctx.url.pathname}">
<label for="site-select">Site</label>
<select id="site-select" name="site" data-autosubmit>${ctx.sites.map(
          (s) => html`<option value="${s.id}"${s.id === ctx.site.id ? raw(' selected') : ''}>${s.name} (#${s.id})</option>`,
        )}</select>
<button type="submit" class="secondary">Switch</button>
</form>`
      : html`<span class="site-name">${ctx.site.name} <span class="muted">(#${ctx.site.id})</span></span>`
  const header = html`<header class="top">
<a class="brand" href="${href(ctx, TOKENS_PATH)}">mlc</a>
${switcher}
<form method="post" action="${DASHBOARD}/sign-out" class="sign-out">${csrfField(ctx)}<span class="muted who">${ctx.admin.email}</span> <button type="submit" class="secondary">Sign out</button></form>
<nav aria-label="Dashboard"><ul>${nav}</ul></nav>
</header>`
  return shell(title, header, html`<h1>${title}</h1>${body}`)
}

/** A confirmation step: the question, what happens, and a POST button named like the action plus Cancel. */
export function confirmPage(
  ctx: PageContext,
  o: {
    title: string
    question: Html | string
    detail?: Html | string
    path: string
    fields: Record<string, string | number>
    button: string
    danger?: boolean
    active: string
  },
): Response {
  const hidden = Object.entries(o.fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)
  return htmlResponse(
    page(
      ctx,
      o.title,
      html`<section class="card" role="alertdialog" aria-labelledby="confirm-q"${o.detail ? raw(' aria-describedby="confirm-text"') : ''}>
<p id="confirm-q"><strong>${o.question}</strong></p>
${o.detail ? html`<p id="confirm-text">${o.detail}</p>` : ''}
<form method="post" action="${href(ctx, o.path)}" class="actions">
${csrfField(ctx)}${hidden}
<button type="submit"${o.danger ? raw(' class="danger"') : ''}>${o.button}</button>
<a class="button secondary" href="${href(ctx, o.path)}" autofocus>Cancel</a>
</form>
</section>`,
      o.active,
    ),
  )
}

/** Runs a form action; an ApiError other than 404 is handed to `onError` to re-render the form with it. */
export async function attempt(action: () => Response | Promise<Response>, onError: (err: ApiError) => Response | Promise<Response>): Promise<Response> {
  try {
    return await action()
  } catch (err) {
    if (err instanceof ApiError && err.status !== 404) return onError(err)
    throw err
  }
}
