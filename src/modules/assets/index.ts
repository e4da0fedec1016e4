/**
 * Browser assets: the visitor SDK at /assets/js/mlc-visitor-sdk.js, the chat widget at
 * /assets/js/mlc-widget.js (both with a content-hash ETag, 304 on revalidation, gzip when
 * accepted), with no auth: they are what every visitor's browser loads. And the /demo page,
 * which shows a site's name and publishable key: only to a signed-in dashboard admin, for a site
 * that admin may see, or to anyone for the one site named by MLC_DEMO_PUBLIC_SITE.
 */
import { Elysia, t } from 'elysia'
import { adminCanSee, adminSiteIds } from '../../dashboard/accounts'
import { cookiesOf, DASHBOARD, redirect, SESSION_COOKIE } from '../../dashboard/kit'
import { DashboardSessions } from '../../dashboard/sessions'
import type { SiteRow } from '../../db/rows'
import type { Store } from '../../db/store'
import { NotFoundError, UnavailableError } from '../../errors'
import type { ModuleDeps } from '../../http/deps'
import { CORS_HEADERS, REQUEST_ID_HEADER } from '../../http/headers'
import { RequestInteger } from '../../http/request-integer'
import { randomBytes } from '../../random'
import { demoCsp, demoPage } from './demo-page'
import { type BrowserFiles, browserFiles, type StaticFile } from './files'

type HeaderBag = Record<string, string | number>

/** True when an If-None-Match header names this file's hash (either encoding's tag, or `*`). */
export function matchesEtag(ifNoneMatch: string | null, hash: string): boolean {
  if (!ifNoneMatch) return false
  return ifNoneMatch.split(',').some((tag) => {
    const v = tag.trim().replace(/^W\//, '')
    return v === '*' || v === `"${hash}"` || v === `"${hash}-gzip"`
  })
}

/**
 * The response for a static file. A `?v=` equal to the content hash means the URL names this
 * exact content, so it may be cached for a year; the bare URL is cached briefly and revalidated.
 */
export function serveFile(request: Request, file: StaticFile, version: string | undefined, base: HeaderBag): Response {
  const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '')
  const headers: HeaderBag = {
    ...base,
    'content-type': file.contentType,
    'cache-control': version === file.hash ? 'public, max-age=31536000, immutable' : 'public, max-age=300, stale-while-revalidate=86400',
    // Strong tags differ per content coding (RFC 9110 8.8.3); both name the same hash.
    etag: gzip ? `"${file.hash}-gzip"` : `"${file.hash}"`,
    vary: 'Accept-Encoding',
    'x-content-type-options': 'nosniff',
    'cross-origin-resource-policy': 'cross-origin',
  }
  const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]))
  if (matchesEtag(request.headers.get('if-none-match'), file.hash)) return new Response(null, { status: 304, headers: h })
  if (gzip) return new Response(file.gzip, { headers: { ...h, 'content-encoding': 'gzip' } })
  return new Response(file.body, { headers: h })
}

const fileQuery = t.Object({ v: t.Optional(t.String()) })
const hidden = { detail: { hide: true } } as const

/** The assets controller. `files` is injectable so tests can serve a build of their own. */
export function assetsModule({ store, config, clock }: ModuleDeps, files: () => Promise<BrowserFiles> = browserFiles) {
  // Reads the dashboard's session cookie with the dashboard's own checks; made on the first /demo.
  let sessions: DashboardSessions | null = null
  const serve = async (which: keyof BrowserFiles, request: Request, v: string | undefined, headers: HeaderBag) => {
    const file = (await files())[which]
    if (!file) throw new UnavailableError('The browser files are not built: run `npm run build:sdk` (npm start and npm test do it for you).')
    return serveFile(request, file, v, headers)
  }
  return new Elysia()
    .get('/assets/js/mlc-visitor-sdk.js', ({ request, query, set }) => serve('sdk', request, query.v, set.headers as HeaderBag), {
      query: fileQuery,
      ...hidden,
    })
    .get('/assets/js/mlc-widget.js', ({ request, query, set }) => serve('widget', request, query.v, set.headers as HeaderBag), {
      query: fileQuery,
      ...hidden,
    })
    .get(
      '/demo',
      async ({ query, set, request }) => {
        const requestId = String(set.headers[REQUEST_ID_HEADER])
        // A page for a browser tab, not for other origins' scripts: none of the API's CORS headers.
        for (const name of Object.keys(CORS_HEADERS)) delete set.headers[name]
        sessions ??= new DashboardSessions(store, clock, config.dashboardSessionTtl * 1000)
        const site = await demoSite(store, sessions, config.demoPublicSite, request, query.site)
        if (!site) {
          // Not signed in: the same answer whether the site exists or not, so it reveals nothing.
          const url = new URL(request.url)
          return redirect(`${DASHBOARD}/sign-in?next=${encodeURIComponent(url.pathname + url.search)}`, { [REQUEST_ID_HEADER]: requestId })
        }
        const nonce = randomBytes(16).toString('base64')
        const html = demoPage({
          siteName: site.name,
          siteId: site.id,
          siteKey: site.publishable_key,
          serverUrl: config.publicUrl.replace(/\/$/, '') || new URL(request.url).origin,
          nonce,
        })
        return new Response(html, {
          headers: {
            [REQUEST_ID_HEADER]: requestId,
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': demoCsp(nonce),
            'cache-control': 'no-store',
            'referrer-policy': 'no-referrer',
            'x-content-type-options': 'nosniff',
          },
        })
      },
      { query: t.Object({ site: t.Optional(RequestInteger({ minimum: 1, error: 'site must be a site id' })) }), ...hidden },
    )
}

/**
 * The site /demo shows a request, or null when the visitor must sign in first. Without `?site=`
 * it is the public demo site (MLC_DEMO_PUBLIC_SITE) if there is one, else the signed-in admin's
 * first site. A signed-in admin asking for a site they may not see gets the same 404 as for a
 * site that does not exist.
 */
export async function demoSite(
  store: Store,
  sessions: DashboardSessions,
  publicSiteId: number,
  request: Request,
  asked: number | undefined,
): Promise<SiteRow | null> {
  if (publicSiteId > 0 && (asked === undefined || asked === publicSiteId)) {
    const site = await store.sites.byId(publicSiteId)
    if (site) return site
  }
  const who = await sessions.read(cookiesOf(request).get(SESSION_COOKIE))
  if (!who) return null
  const id = asked ?? (await adminSiteIds(store, who.admin))[0]
  const site = id !== undefined && (await adminCanSee(store, who.admin, id)) ? await store.sites.byId(id) : null
  if (site) return site
  if (asked !== undefined) throw new NotFoundError(`You have no site with id ${asked}.`, 'site')
  throw new NotFoundError('Your account has no site to try the demo with yet: create one with `mlc site create`, or ask the owner for access.', 'site')
}
