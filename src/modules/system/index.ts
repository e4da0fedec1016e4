/** Unauthenticated system routes: health, the legacy-URL fallback, the OpenAPI document and its reference page. */
import { Elysia, t } from 'elysia'
import { BadRequestError } from '../../errors'
import { Envelope, ok } from '../../http/envelope'
import { CORS_HEADERS, JSON_CONTENT_TYPE, REQUEST_ID_HEADER } from '../../http/headers'
import { VERSION } from '../../version'
import { serveFile } from '../assets'
import { buildDocument, type Documentation, type RouteInfo } from './openapi-document'
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
    headers: { ...CORS_HEADERS, 'content-type': JSON_CONTENT_TYPE, [REQUEST_ID_HEADER]: requestId },
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

/** The document's own parts: everything else comes from the routes (see openapi-document.ts). */
function documentation(publicUrl: string): Documentation {
  return {
    info: {
      title: API_TITLE,
      version: VERSION,
      description: [
        'The MyLiveChat developer platform, self-hosted.',
        '',
        'Every resource answers at `/v1/{resource}` (items at `/v1/{resource}/{id}`) and at the legacy form',
        '`/v1/api.ashx?resource={resource}&id={id}&action={action}`; both reach the same handler, so each operation',
        'below is also reachable that way: `GET /v1/api.ashx?resource=tags&id=5` is `GET /v1/tags/5`, and',
        '`POST /v1/api.ashx?resource=webhook_deliveries&id=7&action=retry` is `POST /v1/webhook_deliveries/7?action=retry`.',
        'A legacy URL without `resource` answers 400 with `param: "resource"`.',
        '',
        'Every response carries `X-MLC-Request-Id`, equal to `request_id` in the body. Authenticated responses',
        'carry `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`, `RateLimit-Policy` and `RateLimit`;',
        'a 429 carries `Retry-After`. Errors: `{ ok:false, error:{ code, message, request_id, param? } }`.',
      ].join('\n'),
    },
    servers: [{ url: publicUrl, description: 'This server' }],
    // Described groups for the reference page; an operation may use a tag not listed here.
    tags: [
      { name: 'system', description: 'Liveness and readiness probes; no token.' },
      { name: 'whoami', description: 'The calling token: site, scopes, plan, usage and rate-limit state.' },
      { name: 'tags', description: 'Conversation tags of a site.' },
      { name: 'webhooks', description: 'Webhook subscriptions and their delivery log (signed per Standard Webhooks).' },
      { name: 'visitors', description: 'Identified visitors: upsert by key, read, erase.' },
      { name: 'track', description: 'Visitor events.' },
      { name: 'segments', description: 'Rule-based visitor segments.' },
      { name: 'conversation_starters', description: 'Suggested openers shown by the chat widget.' },
      { name: 'site_settings', description: 'Identity verification and the publishable key.' },
      { name: 'chat', description: 'Chat sessions, agent replies, handoffs, transcripts, feedback, the knowledge base and bot settings.' },
      { name: 'widget', description: "The chat widget's endpoints, called from the browser with the site's publishable key." },
    ],
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
  }
}

/**
 * The OpenAPI 3.1 document at /v1/openapi.json and a reference page at /v1/openapi.
 * @elysiajs/openapi builds the document from `routes()` (the app's, read on the first request,
 * once every module is registered); openapi-document.ts publishes it; both run again only when
 * routes were added. The plugin's own page is not used: it loads Scalar from a CDN, unpinned;
 * ours serves the embedded copy (see reference-page.ts).
 */
export function openapiModule(publicUrl: string, routes: () => readonly RouteInfo[]) {
  const docs = documentation(publicUrl)
  let published: { routes: number; document: object } | null = null
  return new Elysia()
    .get(
      SPEC_PATH,
      () => {
        const all = routes()
        if (published?.routes !== all.length)
          published = { routes: all.length, document: buildDocument(docs, all, { paths: [REFERENCE_PATH, SPEC_PATH, REFERENCE_SCRIPT_PATH] }) }
        return published.document
      },
      { detail: { hide: true } },
    )
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
