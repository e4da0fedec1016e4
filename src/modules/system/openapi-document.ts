/**
 * The OpenAPI document as published at /v1/openapi.json: @elysiajs/openapi builds it from the
 * routes' schemas, and this step makes it one that linters and code generators accept, for every
 * route without a route having to ask:
 *
 * - paths without a trailing slash: Elysia names a prefix's root route `/v1/tags/`, and answers
 *   `/v1/tags` and `/v1/tags/` alike (loose paths), so the document names the form users write;
 * - schemas of JSON Schema and OpenAPI keywords only (see published-schema.ts): Elysia's `error`
 *   messages stay in the validator;
 * - request bodies as `application/json` with their schema: our one body parser (src/http/body.ts)
 *   reads JSON whatever the Content-Type, and Elysia lists no media type for a custom parser;
 * - the error envelope once, as `#/components/schemas/ErrorEnvelope`, referenced by every error status;
 * - an operationId on every operation (operation-id.ts) and `security: []` on public ones.
 */
import { toOpenAPISchema } from '@elysiajs/openapi'
import { documentConditionalGets } from '../../http/conditional-get-openapi'
import { ErrorEnvelope } from '../../http/envelope'
import { documentIdempotency } from './idempotency-doc'
import { deriveOperationId } from './operation-id'
import { publishedSchema } from './published-schema'

type Json = ReturnType<typeof publishedSchema>
type JsonObject = { [key: string]: any }

/** What publishing reads of a route (Elysia's InternalRoute). */
export interface RouteInfo {
  method: string
  path: string
  hooks?: { body?: unknown; detail?: { operationId?: string; hide?: boolean } }
}

/** The parts of the document that do not come from routes: info, servers, security schemes, tags. */
export interface Documentation {
  info: { title: string; version: string; description?: string }
  servers?: { url: string; description?: string }[]
  tags?: { name: string; description?: string }[]
  components?: { securitySchemes?: Record<string, unknown> }
}

// Not `Error`: generated TypeScript would shadow the built-in Error with it.
const ERROR_SCHEMA_NAME = 'ErrorEnvelope'
const ERROR_REF = `#/components/schemas/${ERROR_SCHEMA_NAME}`
const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

/** Builds the published document of `routes` (the app's, every module registered). */
export function buildDocument(documentation: Documentation, routes: readonly RouteInfo[], exclude: { paths: string[] }): JsonObject {
  // toOpenAPISchema reads the routes through the app's getGlobalRoutes; this hands it exactly ours.
  const generated = toOpenAPISchema({ getGlobalRoutes: () => routes } as never, exclude)
  return publishDocument(documentation, generated as JsonObject, routes)
}

/** The published form of a document @elysiajs/openapi generated (`generated.paths`, `generated.components`). */
export function publishDocument(documentation: Documentation, generated: JsonObject, routes: readonly RouteInfo[]): JsonObject {
  const byRoute = new Map<string, RouteInfo>()
  for (const r of routes) byRoute.set(`${r.method.toLowerCase()} ${openapiPath(r.path)}`, r)
  const errorShape = canonical(withoutDescription(publishedSchema(ErrorEnvelope)))

  const paths: Record<string, JsonObject> = {}
  for (const [generatedPath, item] of Object.entries((generated.paths ?? {}) as Record<string, JsonObject>)) {
    const path = withoutTrailingSlash(generatedPath)
    paths[path] ??= {}
    for (const [method, operation] of Object.entries(item)) {
      // The first route declared for a method and path answers it; a second one could not be reached.
      if (!METHODS.has(method) || paths[path][method]) continue
      const route = byRoute.get(`${method} ${generatedPath}`)
      const published = publishOperation(method, path, operation, route, errorShape)
      paths[path][method] = published
    }
  }

  const schemas: Record<string, Json> = {}
  for (const [name, schema] of Object.entries((generated.components?.schemas ?? {}) as Record<string, unknown>)) schemas[name] = publishedSchema(schema)
  schemas[ERROR_SCHEMA_NAME] = { ...(publishedSchema(ErrorEnvelope) as JsonObject), description: 'The envelope of every error answer.' }

  const document = {
    openapi: '3.1.1',
    info: documentation.info,
    ...(documentation.servers ? { servers: documentation.servers } : {}),
    ...(documentation.tags ? { tags: documentation.tags } : {}),
    paths,
    components: { ...documentation.components, schemas },
  }
  // What the pipeline adds to whole classes of operations, said once for all of them: conditional
  // reads on every token GET (the auth plugin's ETag, If-None-Match and 304), Idempotency-Key on
  // every write (src/http/idempotency.ts).
  documentConditionalGets(document as Parameters<typeof documentConditionalGets>[0])
  documentIdempotency(document)
  return document
}

function publishOperation(method: string, path: string, operation: JsonObject, route: RouteInfo | undefined, errorShape: string): JsonObject {
  const out: JsonObject = { ...operation }
  if (Array.isArray(out.parameters)) out.parameters = out.parameters.map((p: JsonObject) => ({ ...p, schema: publishedSchema(p.schema) }))
  if (out.requestBody) {
    const declared = route?.hooks?.body
    const schema = publishedSchema(declared && typeof declared === 'object' ? declared : firstSchema(out.requestBody.content))
    out.requestBody = { ...out.requestBody, required: bodyRequired(schema), content: { 'application/json': { schema } } }
  }
  const responses: JsonObject = {}
  for (const [status, response] of Object.entries((out.responses ?? {}) as Record<string, JsonObject>)) {
    responses[status] = publishResponse(response, errorShape)
  }
  out.responses = responses
  // A route without a security requirement is public: said explicitly, as linters ask.
  out.security ??= []
  out.operationId = route?.hooks?.detail?.operationId ?? deriveOperationId(method, path, { listsItems: listsItems(responses) })
  return out
}

function publishResponse(response: JsonObject, errorShape: string): JsonObject {
  const out: JsonObject = { ...response }
  if (out.content) {
    out.content = Object.fromEntries(
      Object.entries(out.content as Record<string, JsonObject>).map(([type, media]) => {
        const schema = publishedSchema(media.schema)
        // Only a schema with an `error` property can be the envelope: the others skip the comparison.
        const isError = hasErrorProperty(schema) && canonical(withoutDescription(schema)) === errorShape
        return [type, { ...media, schema: isError ? { $ref: ERROR_REF } : schema }]
      }),
    )
  }
  if (out.headers) {
    out.headers = Object.fromEntries(
      Object.entries(out.headers as Record<string, JsonObject>).map(([name, h]) => [name, { ...h, schema: publishedSchema(h.schema) }]),
    )
  }
  return out
}

/** Whether the success answer's `data` is a list (in any branch of a union). */
function listsItems(responses: JsonObject): boolean {
  const success = responses['200'] ?? responses['201']
  const schema = success?.content?.['application/json']?.schema as JsonObject | undefined
  const branches: JsonObject[] = schema ? [schema, ...((schema.anyOf ?? schema.oneOf ?? []) as JsonObject[])] : []
  return branches.some((b) => b?.properties?.data?.type === 'array')
}

/**
 * An empty body reads as `{}` (src/http/body.ts), so a body is optional exactly when `{}` is
 * valid: an object schema with no required property.
 */
function bodyRequired(schema: Json): boolean {
  const s = schema as JsonObject
  return !(s && s.type === 'object' && !(Array.isArray(s.required) && s.required.length > 0))
}

function firstSchema(content: unknown): unknown {
  const first = Object.values((content ?? {}) as Record<string, JsonObject>)[0]
  return first?.schema ?? {}
}

/** `/v1/tags/:id` -> `/v1/tags/{id}` (the form the generated document keys paths by). */
function openapiPath(path: string): string {
  return path.replace(/:([^/]+)/g, '{$1}')
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path
}

function withoutDescription(schema: Json): Json {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return schema
  const { description: _, ...rest } = schema
  return rest
}

/** JSON with object keys sorted, to compare schemas whatever order their keys were written in. */
function hasErrorProperty(schema: Json): boolean {
  const properties = schema !== null && typeof schema === 'object' && !Array.isArray(schema) ? schema.properties : undefined
  return properties !== null && typeof properties === 'object' && !Array.isArray(properties) && 'error' in properties
}

function canonical(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k] as Json)}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}
