/**
 * The published OpenAPI document (src/modules/system/openapi-document.ts): every operation has an
 * operationId, a summary, a tag, its security and every status its route declares; paths have no
 * trailing slash; schemas hold JSON Schema and OpenAPI keywords only, while the validator keeps
 * its own messages. A module written the way ours are gets all of that without asking.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Elysia, t as tb } from 'elysia'
import { Envelope, responses } from '../../src/http/envelope'
import { buildDocument, type RouteInfo } from '../../src/modules/system/openapi-document'
import { deriveOperationId } from '../../src/modules/system/operation-id'
import { publishedSchema } from '../../src/modules/system/published-schema'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
let doc: any
beforeAll(async () => {
  t = await createTestApp()
  doc = (await t.call('GET', '/v1/openapi.json', { token: null })).body
})
afterAll(() => t.cleanup())

const METHODS = ['get', 'put', 'post', 'delete', 'patch']

/** Every operation of a document as [METHOD path, operation]. */
function operations(document: any): [string, any][] {
  return Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([m, op]) => [`${m.toUpperCase()} ${path}`, op] as [string, any]),
  )
}

/** JSON Schema 2020-12's keywords and OpenAPI 3.1's additions: nothing else may appear in a schema. */
const SCHEMA_KEYWORDS = new Set(
  (
    '$schema $id $ref $anchor $dynamicRef $dynamicAnchor $vocabulary $comment $defs allOf anyOf oneOf not if then else dependentSchemas ' +
    'prefixItems items contains properties patternProperties additionalProperties propertyNames unevaluatedItems unevaluatedProperties ' +
    'type enum const multipleOf maximum exclusiveMaximum minimum exclusiveMinimum maxLength minLength pattern maxItems minItems uniqueItems ' +
    'maxContains minContains maxProperties minProperties required dependentRequired title description default deprecated readOnly writeOnly ' +
    'examples format contentEncoding contentMediaType contentSchema discriminator xml externalDocs example'
  ).split(' '),
)

/** Every keyword used by a schema and its subschemas, with where it was found. */
function keywords(schema: any, at: string, out: [string, string][] = []): [string, string][] {
  if (!schema || typeof schema !== 'object') return out
  for (const [k, v] of Object.entries(schema)) {
    out.push([k, at])
    if (['properties', 'patternProperties', '$defs', 'dependentSchemas'].includes(k)) {
      for (const [name, sub] of Object.entries(v as object)) keywords(sub, `${at}/${k}/${name}`, out)
    } else if (['allOf', 'anyOf', 'oneOf', 'prefixItems'].includes(k)) {
      for (const [i, sub] of (v as any[]).entries()) keywords(sub, `${at}/${k}/${i}`, out)
    } else if (['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames'].includes(k)) keywords(v, `${at}/${k}`, out)
  }
  return out
}

/** Every schema of a document: parameters, request bodies, responses, components. */
function schemas(document: any): [string, any][] {
  const out: [string, any][] = Object.entries(document.components?.schemas ?? {}).map(([name, s]) => [`#/components/schemas/${name}`, s])
  for (const [name, op] of operations(document)) {
    for (const p of op.parameters ?? []) out.push([`${name} parameter ${p.name}`, p.schema])
    for (const [type, media] of Object.entries<any>(op.requestBody?.content ?? {})) out.push([`${name} body ${type}`, media.schema])
    for (const [status, r] of Object.entries<any>(op.responses ?? {})) {
      for (const [type, media] of Object.entries<any>(r.content ?? {})) out.push([`${name} ${status} ${type}`, media.schema])
    }
  }
  return out
}

describe('the served document', () => {
  test('names collection paths without a trailing slash, and Elysia still answers both forms', async () => {
    const paths = Object.keys(doc.paths)
    expect(paths.filter((p) => p.length > 1 && p.endsWith('/'))).toEqual([])
    expect(paths).toEqual(expect.arrayContaining(['/v1/tags', '/v1/tags/{id}', '/v1/visitors', '/v1/track', '/v1/whoami', '/v1/widget/sessions']))
    for (const path of ['/v1/tags', '/v1/tags/']) {
      const res = await t.call('GET', path)
      expect(res.status).toBe(200)
      expect(res.body.ok).toBe(true)
    }
  })

  test('every operation has a unique operationId, a summary, a tag and an explicit security requirement', () => {
    const problems: string[] = []
    const seen = new Map<string, string>()
    for (const [name, op] of operations(doc)) {
      if (typeof op.operationId !== 'string' || !/^[a-z][A-Za-z0-9]*$/.test(op.operationId)) problems.push(`${name}: operationId ${op.operationId}`)
      else if (seen.has(op.operationId)) problems.push(`${name}: operationId ${op.operationId} also names ${seen.get(op.operationId)}`)
      seen.set(op.operationId, name)
      if (typeof op.summary !== 'string' || op.summary.trim() === '') problems.push(`${name}: no summary`)
      if (!Array.isArray(op.tags) || op.tags.length === 0) problems.push(`${name}: no tag`)
      if (!Array.isArray(op.security)) problems.push(`${name}: no security`)
      for (const req of op.security ?? [])
        for (const scheme of Object.keys(req)) if (!doc.components.securitySchemes[scheme]) problems.push(`${name}: ${scheme}?`)
    }
    expect(problems).toEqual([])
    expect(seen.size).toBeGreaterThan(50)
  })

  test('the CRUD operations are named after what they do; public routes say so with an empty requirement', () => {
    const id = (name: string) => operations(doc).find(([n]) => n === name)?.[1].operationId
    expect(['GET /v1/tags', 'POST /v1/tags', 'GET /v1/tags/{id}', 'PATCH /v1/tags/{id}', 'DELETE /v1/tags/{id}'].map(id)).toEqual([
      'listTags',
      'createTag',
      'getTag',
      'updateTag',
      'deleteTag',
    ])
    expect(id('GET /v1/site_settings')).toBe('getSiteSettings')
    expect(id('GET /v1/kb_articles')).toBe('listKbArticles')
    // Declared by the route (its verb is not CRUD).
    expect(id('POST /v1/visitors')).toBe('identifyVisitor')
    expect(id('POST /v1/track')).toBe('trackEvent')
    expect(id('POST /v1/sessions/{id}')).toBe('closeSession')
    expect(doc.paths['/healthz'].get.security).toEqual([])
    expect(doc.paths['/v1/tags'].get.security).toEqual([{ bearer: [] }])
    expect(doc.paths['/v1/widget/sessions'].post.security).toEqual([{ siteKey: [] }])
  })

  test('a route that needs no credential and takes from no bucket documents no 401 or 429', () => {
    expect(Object.keys(doc.paths['/readyz'].get.responses).sort()).toEqual(['200', '503'])
    for (const status of ['401', '429']) expect(doc.paths['/v1/tags'].get.responses[status]).toBeDefined()
  })

  test('every route is documented with at least the statuses it declares', () => {
    const problems: string[] = []
    let routes = 0
    for (const route of t.app.elysia.routes as RouteInfo[] & { hooks: { response?: Record<string, unknown> } }[]) {
      const hooks = route.hooks as { detail?: { hide?: boolean }; response?: Record<string, unknown> }
      if (hooks?.detail?.hide || !hooks?.response) continue
      routes++
      const path = route.path.replace(/:([^/]+)/g, '{$1}').replace(/(.)\/$/, '$1')
      const op = doc.paths[path]?.[route.method.toLowerCase()]
      if (!op) {
        problems.push(`${route.method} ${route.path} is not in the document`)
        continue
      }
      const missing = Object.keys(hooks.response).filter((status) => !op.responses[status])
      if (missing.length) problems.push(`${route.method} ${path} lacks ${missing.join(', ')}`)
    }
    expect(problems).toEqual([])
    expect(routes).toBeGreaterThan(50)
  })

  test('schemas hold JSON Schema and OpenAPI keywords only: no `error` messages, no coercion branches', () => {
    const found = schemas(doc).flatMap(([where, schema]) => keywords(schema, where).filter(([k]) => !SCHEMA_KEYWORDS.has(k) && !k.startsWith('x-')))
    expect(found).toEqual([])
    // Path and query integers are integers, not "a string or an integer".
    expect(doc.paths['/v1/tags/{id}'].get.parameters.find((p: any) => p.name === 'id').schema).toEqual({ minimum: 1, type: 'integer' })
    const limit = doc.paths['/v1/kb_articles'].get.parameters.find((p: any) => p.name === 'limit').schema
    expect(limit).toMatchObject({ type: 'integer', minimum: 1, maximum: 100, default: 20 })
  })

  test('the validator keeps its own messages', async () => {
    const res = await t.call('POST', '/v1/tags', { body: { name: 'x', color: 'red' } })
    expectError(res, 400, 'bad_request', 'color')
    expect(res.body.error.message).toBe('color must be a hex color like #2563eb')
  })

  test('request bodies are JSON with their schema, required only when an empty body would not do', () => {
    const create = doc.paths['/v1/tags'].post.requestBody
    expect(Object.keys(create.content)).toEqual(['application/json'])
    expect(create.required).toBe(true)
    expect(create.content['application/json'].schema).toMatchObject({ type: 'object', required: ['name'], properties: { name: { type: 'string' } } })
    const update = doc.paths['/v1/tags/{id}'].patch.requestBody
    expect(update.required).toBe(false)
    expect(update.content['application/json'].schema.properties.color.pattern).toBe('^#[0-9a-fA-F]{6}$')
  })

  test('every error status refers to the one error envelope', () => {
    expect(doc.components.schemas.ErrorEnvelope).toMatchObject({
      type: 'object',
      required: ['ok', 'error'],
      properties: { ok: { const: false }, error: { required: ['code', 'message', 'request_id'] } },
    })
    const inline: string[] = []
    for (const [name, op] of operations(doc)) {
      for (const [status, r] of Object.entries<any>(op.responses)) {
        if (Number(status) >= 400 && r.content['application/json'].schema.$ref !== '#/components/schemas/ErrorEnvelope') inline.push(`${name} ${status}`)
      }
    }
    expect(inline).toEqual([])
    expect(doc.paths['/v1/tags'].post.responses['409'].description).toStartWith('Conflicts with stored state.')
  })

  test("describes the seed's api.ashx?resource= form in info", () => {
    expect(doc.info.description).toContain('/v1/api.ashx?resource={resource}&id={id}&action={action}')
  })

  test('is built once: the same bytes on every request', async () => {
    const a = await (await t.request('GET', '/v1/openapi.json', { token: null })).text()
    const b = await (await t.request('GET', '/v1/openapi.json', { token: null })).text()
    expect(a).toBe(b)
  })
})

describe('a new module gets it all without asking', () => {
  // A module written as ours are: a prefix whose root route Elysia names `/v1/events/`, bodies
  // with custom messages, and responses() maps.
  const Event = tb.Object({ id: tb.Integer(), name: tb.String() })
  // Only the declarations matter here; nothing is requested.
  const unused = () => null as never
  const events = new Elysia({ prefix: '/v1/events' })
    .get('/', unused, {
      response: responses({ 200: Envelope(tb.Array(Event)) }, [403]),
      detail: { tags: ['events'], summary: 'List events', security: [{ bearer: [] }] },
    })
    .post('/', unused, {
      body: tb.Object({ name: tb.String({ minLength: 1, error: 'name must not be empty' }), error: tb.Optional(tb.String()) }),
      response: responses({ 201: Envelope(Event) }, [400, 409]),
      detail: { tags: ['events'], summary: 'Record an event', security: [{ bearer: [] }] },
    })
    .get('/:id', unused, {
      response: responses({ 200: Envelope(Event) }, [404]),
      detail: { tags: ['events'], summary: 'Get an event', security: [{ bearer: [] }] },
    })
    .post('/:id', unused, { detail: { tags: ['events'], summary: 'Replay an event' } })
  const app = new Elysia().use(events)
  const document = buildDocument({ info: { title: 't', version: '1' } }, app.routes as RouteInfo[], { paths: [] })

  test('paths, operationIds, security, bodies and error references', () => {
    expect(Object.keys(document.paths)).toEqual(['/v1/events', '/v1/events/{id}'])
    const ops = operations(document).map(([name, op]) => [name, op.operationId])
    expect(ops).toEqual([
      ['GET /v1/events', 'listEvents'],
      ['POST /v1/events', 'createEvent'],
      ['GET /v1/events/{id}', 'getEvent'],
      ['POST /v1/events/{id}', 'runEventAction'],
    ])
    expect(document.paths['/v1/events/{id}'].post.security).toEqual([])
    const body = document.paths['/v1/events'].post.requestBody.content['application/json'].schema
    // The `error` keyword goes; a property named `error` stays.
    expect(body.properties.name).toEqual({ minLength: 1, type: 'string' })
    expect(Object.keys(body.properties)).toEqual(['name', 'error'])
    expect(document.paths['/v1/events'].post.responses['409'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ErrorEnvelope' })
    expect(Object.keys(document.paths['/v1/events'].post.responses).sort()).toEqual(['201', '400', '401', '409', '422', '429'])
  })

  test('an operationId the route declares wins', () => {
    const declared = new Elysia().post('/v1/things/:id', unused, { detail: { operationId: 'polishThing', summary: 'Polish' } })
    const d = buildDocument({ info: { title: 't', version: '1' } }, declared.routes as RouteInfo[], { paths: [] })
    expect(d.paths['/v1/things/{id}'].post.operationId).toBe('polishThing')
  })
})

describe('deriveOperationId', () => {
  const cases: [string, string, boolean, string][] = [
    ['get', '/v1/tags', true, 'listTags'],
    ['post', '/v1/tags', false, 'createTag'],
    ['get', '/v1/tags/{id}', false, 'getTag'],
    ['patch', '/v1/tags/{id}', false, 'updateTag'],
    ['delete', '/v1/tags/{id}', false, 'deleteTag'],
    ['post', '/v1/tags/{id}', false, 'runTagAction'],
    ['get', '/v1/site_settings', false, 'getSiteSettings'],
    ['patch', '/v1/site_settings', false, 'updateSiteSettings'],
    ['post', '/v1/kb_articles', false, 'createKbArticle'],
    ['post', '/v1/conversation_starters', false, 'createConversationStarter'],
    ['get', '/v1/webhook_deliveries', true, 'listWebhookDeliveries'],
    ['post', '/v1/entries', false, 'createEntry'],
    ['get', '/v1/widget/sessions/{id}/messages', true, 'listWidgetSessionMessages'],
    ['post', '/v1/widget/sessions/{id}/messages', false, 'createWidgetSessionMessage'],
    ['get', '/healthz', false, 'getHealthz'],
    ['get', '/', false, 'getRoot'],
  ]
  for (const [method, path, listsItems, expected] of cases) {
    test(`${method.toUpperCase()} ${path} -> ${expected}`, () => expect(deriveOperationId(method, path, { listsItems })).toBe(expected))
  }
})

describe('publishedSchema', () => {
  test("drops unknown keywords at every depth and the validator's additionalProperties: false; keeps x- extensions and properties of any name", () => {
    const schema = {
      type: 'object',
      error: 'top',
      additionalProperties: false,
      'x-internal': true,
      properties: {
        error: { type: 'string', error: 'nested' },
        list: { type: 'array', items: { type: 'string', errorMessage: 'x', maxLength: 3 } },
        either: { anyOf: [{ type: 'null' }, { type: 'string', transform: ['trim'] }] },
        open: { type: 'object', additionalProperties: { type: 'string' } },
      },
    }
    expect(publishedSchema(schema)).toEqual({
      type: 'object',
      'x-internal': true,
      properties: {
        error: { type: 'string' },
        list: { type: 'array', items: { type: 'string', maxLength: 3 } },
        either: { anyOf: [{ type: 'null' }, { type: 'string' }] },
        open: { type: 'object', additionalProperties: { type: 'string' } },
      },
    })
  })

  test('a nullable enum accepts null in its enum too', () => {
    expect(publishedSchema({ type: ['string', 'null'], enum: ['a', 'b'] })).toEqual({ type: ['string', 'null'], enum: ['a', 'b', null] })
    expect(publishedSchema({ type: 'string', enum: ['a', 'b'] })).toEqual({ type: 'string', enum: ['a', 'b'] })
  })

  test("shows Elysia's coercions as the type they decode to", () => {
    expect(
      publishedSchema({
        default: 20,
        anyOf: [
          { type: 'string', format: 'integer', default: 0 },
          { type: 'integer', maximum: 100 },
        ],
      }),
    ).toEqual({
      default: 20,
      type: 'integer',
      maximum: 100,
    })
    expect(publishedSchema({ anyOf: [{ type: 'boolean' }, { type: 'string', format: 'boolean' }] })).toEqual({ type: 'boolean' })
    // A real choice of two types stays a choice.
    expect(publishedSchema({ anyOf: [{ type: 'string' }, { type: 'integer' }] })).toEqual({ anyOf: [{ type: 'string' }, { type: 'integer' }] })
  })
})
