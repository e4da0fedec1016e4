/** Unauthenticated system routes: health, the legacy-URL fallback, the OpenAPI document and its reference page. */
import { openapi } from '@elysiajs/openapi'
import { Elysia, t } from 'elysia'
import { BadRequestError } from '../../errors'
import { Envelope, ok } from '../../http/envelope'
import { CORS_HEADERS, REQUEST_ID_HEADER } from '../../http/headers'
import { VERSION } from '../../version'
import { serveFile } from '../assets'
import { documentIdempotency } from './idempotency-doc'
import { REFERENCE_HEADERS, REFERENCE_PATH, REFERENCE_SCRIPT_PATH, referencePage, SPEC_PATH, scalarBundle, scalarScript } from './reference-page'

/** What `/healthz` answers in `data`. */
export function healthData() {
  return { status: 'ok' as const, version: VERSION }
}

/**
 * `/healthz` as the front answers it (see createApp): the same envelope and headers as every
 * response, built without the router. A liveness probe must not wait for the API router, which
 * compiles each route's handler on its first request (~10 ms after a start).
 */
export function healthResponse(requestId: string, method: string): Response {
  const body = JSON.stringify(ok({ headers: { [REQUEST_ID_HEADER]: requestId } }, healthData()))
  return new Response(method === 'HEAD' ? null : body, {
    headers: { ...CORS_HEADERS, 'content-type': 'application/json;charset=utf-8', [REQUEST_ID_HEADER]: requestId },
  })
}

/** `/healthz`: the process is up and answering. The front serves it (healthResponse); this route documents it. */
export function healthModule() {
  return new Elysia().get('/healthz', ({ set }) => ok(set, healthData()), {
    response: { 200: Envelope(t.Object({ status: t.Literal('ok'), version: t.String() })) },
    detail: { tags: ['system'], summary: 'Liveness', description: 'Answers 200 without auth while the process serves requests.' },
  })
}

/** `/v1/api.ashx` without `resource=`: the front rewrites every other legacy URL. */
export function legacyFallbackModule(resources: () => string[]) {
  return new Elysia().all(
    '/v1/api.ashx',
    () => {
      throw new BadRequestError(`resource is required, e.g. ?resource=tags. Valid resources: ${resources().join(', ')}.`, 'resource')
    },
    { detail: { hide: true } },
  )
}

const API_TITLE = 'mlc API'

/**
 * The OpenAPI 3.1 document at /v1/openapi.json and a reference page at /v1/openapi. The plugin's
 * own page is off (provider: null): it loads Scalar from a CDN, unpinned; ours serves the
 * embedded copy (see reference-page.ts).
 */
export function openapiModule(publicUrl: string) {
  const spec = openapi({
    path: REFERENCE_PATH,
    specPath: SPEC_PATH,
    provider: null,
    exclude: { paths: [REFERENCE_PATH, SPEC_PATH, REFERENCE_SCRIPT_PATH] },
    documentation: {
      info: {
        title: API_TITLE,
        version: VERSION,
        description: [
          'The MyLiveChat developer platform, self-hosted.',
          '',
          'Every resource answers at `/v1/{resource}` (items at `/v1/{resource}/{id}`) and at the legacy form',
          '`/v1/api.ashx?resource={resource}&id={id}&action={action}`; both reach the same handler.',
          '',
          'Every response carries `X-MLC-Request-Id`, equal to `request_id` in the body. Authenticated responses',
          'carry `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`, `RateLimit-Policy` and `RateLimit`;',
          'a 429 carries `Retry-After`. Errors: `{ ok:false, error:{ code, message, request_id, param? } }`.',
        ].join('\n'),
      },
      servers: [{ url: publicUrl, description: 'This server' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API token `mlc_...`. `?token=` is accepted too.' },
          siteKey: {
            type: 'apiKey',
            in: 'header',
            name: 'X-MLC-Site-Key',
            description: "Widget endpoints: the site publishable key `pk_...` (or `site_key` in the body or query), plus the visitor's anon_id or visitor_key.",
          },
        },
      },
    },
  })
  // Before the plugin, so this (local) hook wraps its document route: see idempotency-doc.ts.
  return new Elysia()
    .onAfterHandle(({ path, responseValue }) => {
      if (path === SPEC_PATH) documentIdempotency(responseValue)
    })
    .use(spec)
    .get(
      REFERENCE_PATH,
      async ({ set }) => {
        const { hash } = await scalarBundle()
        return new Response(referencePage({ title: `${API_TITLE} reference`, scriptUrl: `${REFERENCE_SCRIPT_PATH}?v=${hash}` }), {
          headers: { [REQUEST_ID_HEADER]: String(set.headers[REQUEST_ID_HEADER]), 'content-type': 'text/html; charset=utf-8', ...REFERENCE_HEADERS },
        })
      },
      { detail: { hide: true } },
    )
    .get(
      REFERENCE_SCRIPT_PATH,
      async ({ request, query, set }) => serveFile(request, await scalarScript(), query.v, { [REQUEST_ID_HEADER]: String(set.headers[REQUEST_ID_HEADER]) }),
      { query: t.Object({ v: t.Optional(t.String()) }), detail: { hide: true } },
    )
}
