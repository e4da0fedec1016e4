/**
 * Browser assets: the visitor SDK at /assets/js/mlc-visitor-sdk.js, the chat widget at
 * /assets/js/mlc-widget.js (both with a content-hash ETag, 304 on revalidation, gzip when
 * accepted), and the /demo page. No auth: these are what every visitor's browser loads.
 */
import { Elysia, t } from 'elysia'
import { NotFoundError, UnavailableError } from '../../errors'
import type { ModuleDeps } from '../../http/deps'
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
export function assetsModule({ store, config }: ModuleDeps, files: () => Promise<BrowserFiles> = browserFiles) {
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
      ({ query, set, request }) => {
        const site = query.site ? store.sites.byId(query.site) : store.sites.list()[0]
        if (!site) throw new NotFoundError(query.site ? `No site with id ${query.site}.` : 'No site exists yet.', 'site')
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
            ...(set.headers as Record<string, string>),
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': demoCsp(nonce),
            'cache-control': 'no-store',
            'referrer-policy': 'no-referrer',
          },
        })
      },
      { query: t.Object({ site: t.Optional(RequestInteger({ minimum: 1, error: 'site must be a site id' })) }), ...hidden },
    )
}
