/**
 * Real responses held against the served OpenAPI document, as a user's generated client or
 * contract test would: a scripted run through every resource (success and each error status)
 * records what the API answered; each answer must be a documented status of its operation, and
 * its JSON body must validate (ajv, JSON Schema 2020-12, `$ref`s resolved) against the schema
 * the document gives for it. Answers no operation owns (an unknown resource, a method a path does
 * not have) must be the documented error envelope.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020'
import addFormats from 'ajv-formats'
import { databasePath } from '../../src/db/data-dir'
import { canonicalUrl } from '../../src/http/legacy-url'
import { silentLogger } from '../../src/log'
import { createSite } from '../../src/modules/sites/service'
import { buildDocument, type RouteInfo } from '../../src/modules/system/openapi-document'
import { createToken } from '../../src/modules/tokens/service'
import { createWorkerDispatcher } from '../../src/webhooks/dispatcher'
import { KB, seedKb, siteKeyOf, Visitor } from '../chat/harness'
import { createTestApp, type TestApp } from '../helpers'

interface Exchange {
  method: string
  url: string
  status: number
  body: any
}

let t: TestApp
let doc: any
const exchanges: Exchange[] = []
const AUTH_FAILURES_PER_MINUTE = 5
// A second passes after each call, so the run stays within the plan's rate limit except where it means not to.
let tick = true

beforeAll(async () => {
  t = await createTestApp(
    { MLC_WEBHOOK_ALLOW_PRIVATE: '1', MLC_WEBHOOK_TIMEOUT_MS: '2000', MLC_AUTH_FAILURES_PER_MINUTE: String(AUTH_FAILURES_PER_MINUTE) },
    {
      // The real delivery thread: /readyz answers 200 only while it runs.
      webhooks: ({ store, clock, config, dataDir }) => {
        const d = createWorkerDispatcher({ config, dbPath: databasePath(dataDir), store, clock, logger: silentLogger })
        d.start()
        return d
      },
    },
  )
  await (t.app.webhooks as { ready?: Promise<void> }).ready
  doc = (await t.call('GET', '/v1/openapi.json', { token: null })).body
  // Every call of the run is recorded (the chat harness calls through t.call too).
  const call = t.call.bind(t)
  t.call = async (method, url, opts) => {
    const res = await call(method, url, opts)
    exchanges.push({ method, url, status: res.status, body: res.body })
    if (tick) t.clock.advance(1000)
    return res
  }
  await scriptedRun()
}, 60_000)
afterAll(async () => {
  await t.app.webhooks.stop()
  await t.cleanup()
})

/** Calls and checks the status the step is meant to produce (so the run covers what it says). */
async function step(method: string, url: string, status: number, opts: Parameters<TestApp['call']>[2] = {}) {
  const res = await t.call(method, url, opts)
  if (res.status !== status) throw new Error(`${method} ${url}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

async function scriptedRun(): Promise<void> {
  const other = { token: t.otherSiteToken }
  const read = { token: t.readToken }

  // system and whoami
  await step('GET', '/healthz', 200, { token: null })
  await step('GET', '/readyz', 200, { token: null })
  t.app.lifecycle.draining = true
  await step('GET', '/readyz', 503, { token: null })
  t.app.lifecycle.draining = false
  await step('GET', '/v1/whoami', 200)
  await step('GET', '/v1/whoami', 401, { token: null, ip: '10.9.0.1' })
  await step('GET', '/v1/whoami', 401, { token: 'mlc_unknown', ip: '10.9.0.2' })
  // Failed authentication from one address, past its limit: 429.
  for (let i = 0; i < AUTH_FAILURES_PER_MINUTE; i++) await t.call('GET', '/v1/whoami', { token: `mlc_wrong_${i}`, ip: '10.9.9.9' })
  await step('GET', '/v1/whoami', 429, { token: 'mlc_wrong_again', ip: '10.9.9.9' })

  // tags: every operation, each error, the legacy URL form, and what no operation owns (404, 405)
  const tag = (await step('POST', '/v1/tags', 201, { body: { name: 'vip', color: '#2563eb' } })).data
  await step('POST', '/v1/tags', 409, { body: { name: 'vip' } })
  await step('POST', '/v1/tags', 400, { body: { name: 'x', color: 'red' } })
  await step('POST', '/v1/tags', 400, { rawBody: '{"name":', headers: { 'content-type': 'application/json' } })
  await step('POST', '/v1/tags', 403, { ...read, body: { name: 'nope' } })
  await step('POST', '/v1/tags', 413, { rawBody: JSON.stringify({ name: 'big', pad: 'x'.repeat(1_100_000) }), headers: { 'content-type': 'application/json' } })
  await step('GET', '/v1/tags', 200)
  await step('GET', '/v1/tags/', 200, read)
  await step('GET', `/v1/tags/${tag.id}`, 200)
  await step('GET', `/v1/api.ashx?resource=tags&id=${tag.id}`, 200)
  await step('GET', '/v1/tags/abc', 400)
  await step('GET', `/v1/tags/${tag.id}`, 404, other)
  await step('PATCH', `/v1/tags/${tag.id}`, 200, { body: { color: '#000000' } })
  await step('PATCH', `/v1/tags/${tag.id}`, 404, { ...other, body: { color: '#000000' } })
  await step('DELETE', `/v1/tags/${tag.id}`, 200)
  await step('DELETE', `/v1/tags/${tag.id}`, 404)
  await step('PUT', '/v1/tags', 405, { body: {} })
  await step('GET', '/v1/nothing_here', 404)
  await step('GET', '/v1/api.ashx', 400)

  // webhooks: subscriptions, their actions, the delivery log and a retry
  const sub = (await step('POST', '/v1/webhook_subscriptions', 201, { body: { url: 'http://127.0.0.1:9/hook', events: ['*'] } })).data
  await step('POST', '/v1/webhook_subscriptions', 400, { body: { url: 'ftp://nope', events: ['*'] } })
  await step('GET', '/v1/webhook_subscriptions', 200)
  await step('GET', `/v1/webhook_subscriptions/${sub.id}`, 200)
  await step('GET', `/v1/webhook_subscriptions/${sub.id}`, 404, other)
  await step('POST', `/v1/webhook_subscriptions/${sub.id}?action=rotate_secret`, 200)
  await step('POST', `/v1/webhook_subscriptions/${sub.id}?action=test`, 200)
  await step('POST', `/v1/webhook_subscriptions/${sub.id}?action=explode`, 400)
  const deliveries = (await step('GET', '/v1/webhook_deliveries', 200)).data
  await step('GET', '/v1/webhook_deliveries?status=sideways', 400)
  await step('GET', `/v1/webhook_deliveries/${deliveries[0].id}`, 200)
  await step('GET', `/v1/webhook_deliveries/${deliveries[0].id}`, 404, other)
  await step('POST', `/v1/webhook_deliveries/${deliveries[0].id}?action=retry`, 200)
  // the event feed: the test ping above is an event
  const events = (await step('GET', '/v1/events?order=asc&type=ping', 200)).data
  await step('GET', '/v1/events?order=sideways', 400)
  await step('GET', `/v1/events/${events[0].id}`, 200)
  await step('GET', `/v1/events/${events[0].id}`, 404, other)
  await step('PATCH', `/v1/webhook_subscriptions/${sub.id}`, 200, { body: { active: false } })
  await step('POST', `/v1/webhook_subscriptions/${sub.id}?action=test`, 409)
  await step('DELETE', `/v1/webhook_subscriptions/${sub.id}`, 200)
  await step('DELETE', `/v1/webhook_subscriptions/${sub.id}`, 404)

  // visitors and track, with an API token and with the site's publishable key
  const pk = await siteKeyOf(t, t.site1)
  await step('POST', '/v1/visitors', 201, { body: { key: 'user_1', email: 'ada@example.org', plan: 'pro' } })
  await step('POST', '/v1/visitors', 200, { body: { key: 'user_1', name: 'Ada' } })
  await step('POST', '/v1/visitors', 201, { token: pk, body: { key: 'user_2' } })
  await step('POST', '/v1/visitors', 400, { body: { email: 'no-key@example.org' } })
  await step('POST', '/v1/track', 201, { body: { key: 'user_1', name: 'viewed_pricing', event_id: 'evt_1', properties: { plan: 'pro' } } })
  await step('POST', '/v1/track', 200, { body: { key: 'user_1', name: 'viewed_pricing', event_id: 'evt_1' } })
  await step('POST', '/v1/track', 201, { token: pk, body: { key: 'user_2', name: 'signed_up' } })
  await step('POST', '/v1/track', 400, { body: { key: 'user_1' } })
  await step('GET', '/v1/visitors', 200)
  await step('GET', '/v1/visitors?key=user_1', 200)
  await step('GET', '/v1/visitors?key=nobody', 404)
  await step('GET', '/v1/visitors', 403, { token: pk })
  await step('GET', '/v1/visitors/user_1', 200)
  await step('DELETE', '/v1/visitors?key=user_2', 200)
  await step('DELETE', '/v1/visitors/user_1', 200)
  await step('DELETE', '/v1/visitors/user_1', 404)

  // segments, conversation starters, site settings
  const rule = { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }] }
  const segment = (await step('POST', '/v1/segments', 201, { body: { name: 'Pro', rule } })).data
  await step('POST', '/v1/segments', 409, { body: { name: 'Pro', rule } })
  await step('GET', '/v1/segments', 200)
  await step('GET', `/v1/segments/${segment.id}`, 200)
  await step('PATCH', `/v1/segments/${segment.id}`, 200, { body: { name: 'Pro plan' } })
  await step('DELETE', `/v1/segments/${segment.id}`, 200)
  const starter = (await step('POST', '/v1/conversation_starters', 201, { body: { prompt: 'Where is my order?' } })).data
  await step('POST', '/v1/conversation_starters', 400, { body: { prompt: '' } })
  await step('GET', '/v1/conversation_starters?all=true', 200)
  await step('GET', `/v1/conversation_starters/${starter.id}`, 200)
  await step('PATCH', `/v1/conversation_starters/${starter.id}`, 200, { body: { enabled: false } })
  await step('DELETE', `/v1/conversation_starters/${starter.id}`, 200)
  await step('GET', '/v1/site_settings', 200)
  await step('PATCH', '/v1/site_settings', 200, { body: { identity_required: false } })
  await step('POST', '/v1/site_settings?action=rotate_identity_secret', 200)
  await step('POST', '/v1/site_settings', 400)

  // the knowledge base and chat settings
  await seedKb(t)
  const article = (await step('GET', `/v1/kb_articles?q=${encodeURIComponent('reset password')}`, 200)).data[0]
  await step('GET', '/v1/kb_articles?limit=0', 400)
  await step('GET', `/v1/kb_articles/${article.id}`, 200)
  await step('PATCH', `/v1/kb_articles/${article.id}`, 200, { body: { title: KB[0]?.title } })
  const extra = (await step('POST', '/v1/kb_articles', 201, { body: { title: 'Shipping', body: 'Orders ship within two days.' } })).data
  await step('DELETE', `/v1/kb_articles/${extra.id}`, 200)
  await step('GET', '/v1/chat_settings', 200)
  await step('PATCH', '/v1/chat_settings', 200, { body: { max_bot_replies: 5 } })
  await step('PATCH', '/v1/chat_settings', 400, { body: { min_confidence: 2 } })

  // a chat: the widget's side (publishable key + visitor) and the agent's (API token)
  const visitor = new Visitor(t, pk, { anon_id: 'anon-openapi-1' }, '10.7.0.1')
  const opened = await visitor.call('POST', '/sessions')
  expect(opened.status).toBe(201)
  const sid = opened.body.data.session_id
  expect((await visitor.call('GET', `/sessions/${sid}`)).status).toBe(200)
  expect((await visitor.say(sid, 'How do I reset my password?')).status).toBe(201)
  expect((await visitor.call('GET', `/sessions/${sid}/messages`)).status).toBe(200)
  expect((await visitor.call('POST', `/sessions/${sid}/handoff`, { reason: 'a person please' })).status).toBe(200)
  expect((await new Visitor(t, 'pk_unknown', { anon_id: 'x' }, '10.7.0.2').call('POST', '/sessions')).status).toBe(401)
  expect((await visitor.call('GET', '/sessions/cs_nope_nope_nope_nope_nope')).status).toBe(404)
  await step('GET', '/v1/sessions', 200)
  await step('GET', '/v1/sessions?status=waiting_human', 200)
  await step('GET', `/v1/sessions/${sid}`, 200)
  await step('GET', '/v1/messages', 400)
  await step('GET', `/v1/messages?session_id=${sid}`, 200)
  await step('POST', '/v1/messages', 201, { body: { session_id: sid, text: 'Hi, an agent here.' } })
  await step('GET', '/v1/handoffs', 200)
  await step('GET', `/v1/transcripts?sessionId=${sid}`, 200)
  await step('GET', `/v1/transcripts/${sid}`, 200)
  await step('GET', '/v1/transcripts/cs_unknown', 404)
  expect((await visitor.call('POST', `/sessions/${sid}/feedback`, { rating: 5 })).status).toBe(409)
  expect((await visitor.call('POST', `/sessions/${sid}/close`)).status).toBe(200)
  expect((await visitor.call('POST', `/sessions/${sid}/close`)).status).toBe(409)
  expect((await visitor.call('POST', `/sessions/${sid}/feedback`, { rating: 5, comment: 'Quick and kind.' })).status).toBe(201)
  await step('GET', '/v1/feedback', 200)
  await step('GET', '/v1/usage', 200)
  const second = await new Visitor(t, pk, { anon_id: 'anon-openapi-2' }, '10.7.0.3').open()
  await step('POST', `/v1/sessions/${second}?action=close`, 200)
  await step('POST', `/v1/sessions/${second}?action=close`, 409)
  await step('POST', '/v1/messages', 409, { body: { session_id: second, text: 'Too late.' } })

  // a token over its plan's limit (1 request a minute): 429 with the envelope
  const site = await createSite(t.store, t.clock, { name: 'Tiny', rateLimit: 1 })
  const tiny = (await createToken(t.store, t.clock, { siteId: site.id, scopes: 'read', name: 'tiny' })).token
  tick = false
  await step('GET', '/v1/tags', 200, { token: tiny })
  await step('GET', '/v1/tags', 429, { token: tiny })
  tick = true
}

/** Resolves every `$ref` of a schema to the document's component it names. */
function resolved(schema: any, depth = 0): any {
  if (depth > 32) throw new Error('$ref cycle')
  if (Array.isArray(schema)) return schema.map((s) => resolved(s, depth))
  if (!schema || typeof schema !== 'object') return schema
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((node: any, key: string) => node?.[key.replaceAll('~1', '/').replaceAll('~0', '~')], doc)
    if (!target) throw new Error(`unresolved ${schema.$ref}`)
    return resolved(target, depth + 1)
  }
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, resolved(v, depth)]))
}

const ajv = new Ajv2020({ allErrors: true, strictSchema: true, strictTypes: false, strictTuples: false, strictRequired: false })
addFormats(ajv)
const validators = new Map<string, ValidateFunction>()
function validatorFor(key: string, schema: unknown): ValidateFunction {
  let v = validators.get(key)
  if (!v) {
    v = ajv.compile(resolved(schema))
    validators.set(key, v)
  }
  return v
}

/** The documented operation a request reached: its path template (legacy URLs as their canonical form) and method. */
function operationOf(method: string, url: string): { key: string; op: any } | null {
  const absolute = `http://localhost${url}`
  const pathname = new URL(canonicalUrl(absolute) ?? absolute).pathname.replace(/(.)\/$/, '$1')
  const candidates = Object.entries(doc.paths as Record<string, any>)
    .filter(([template, item]) => item[method.toLowerCase()] && new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(pathname))
    // A literal segment beats a parameter (the fewest parameters wins).
    .sort(([a], [b]) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))
  const [template, item] = candidates[0] ?? []
  return template ? { key: `${method.toUpperCase()} ${template}`, op: item[method.toLowerCase()] } : null
}

describe('every response of a scripted run validates against /v1/openapi.json', () => {
  test('each answer is a documented status of its operation, and its body validates against the schema given for it', () => {
    const problems: string[] = []
    for (const x of exchanges) {
      const found = operationOf(x.method, x.url)
      let schema: unknown
      let key: string
      if (found) {
        const response = found.op.responses[String(x.status)]
        if (!response) {
          problems.push(`${x.method} ${x.url}: ${x.status} is not documented for ${found.key} (${Object.keys(found.op.responses).join(', ')})`)
          continue
        }
        schema = response.content?.['application/json']?.schema
        key = `${found.key} ${x.status}`
      } else {
        // No operation owns it (unknown resource, method not allowed, legacy URL without resource): the error envelope.
        schema = { $ref: '#/components/schemas/ErrorEnvelope' }
        key = 'ErrorEnvelope'
        if (x.status < 400) problems.push(`${x.method} ${x.url}: ${x.status} from no documented operation`)
      }
      const validate = validatorFor(key, schema)
      if (!validate(x.body)) problems.push(`${x.method} ${x.url} ${x.status}: ${ajv.errorsText(validate.errors)}\n  ${JSON.stringify(x.body).slice(0, 300)}`)
    }
    expect(problems).toEqual([])
    expect(exchanges.length).toBeGreaterThan(100)
  })

  test('the run reached every documented operation', () => {
    const reached = new Set(exchanges.map((x) => operationOf(x.method, x.url)?.key))
    const missed = Object.entries(doc.paths as Record<string, any>).flatMap(([path, item]) =>
      Object.keys(item)
        .map((m) => `${m.toUpperCase()} ${path}`)
        .filter((k) => !reached.has(k)),
    )
    expect(missed).toEqual([])
  })

  test('the run answered every status the API uses, each error status included', () => {
    const statuses = [...new Set(exchanges.map((x) => x.status))].sort()
    expect(statuses).toEqual([200, 201, 400, 401, 403, 404, 405, 409, 413, 429, 503])
  })

  test('the document is the same after the run: serving requests does not change what it says', () => {
    // Elysia writes into a route's schemas when it compiles the route (on its first request).
    const again = buildDocument({ info: { title: 'mlc API', version: '0' } }, t.app.elysia.routes as RouteInfo[], { paths: [] })
    expect(JSON.stringify(again.paths)).toBe(JSON.stringify(doc.paths))
    expect(again.components.schemas).toEqual(doc.components.schemas)
  })

  test('a body that breaks the document is caught: the check is not vacuous', () => {
    const found = operationOf('GET', '/v1/tags/1')
    const validate = validatorFor(`${found?.key} 200`, found?.op.responses['200'].content['application/json'].schema)
    expect(validate({ ok: true, data: { id: 1, name: 'vip', color: '#000000' }, request_id: 'r' })).toBe(true)
    expect(validate({ ok: true, data: { id: '1', name: 'vip', color: '#000000' }, request_id: 'r' })).toBe(false)
    expect(validate({ ok: true, data: { id: 1, name: 'vip' }, request_id: 'r' })).toBe(false)
    const error = validatorFor('ErrorEnvelope', { $ref: '#/components/schemas/ErrorEnvelope' })
    expect(error({ ok: false, error: { code: 'not_found', message: 'm', request_id: 'r' } })).toBe(true)
    expect(error({ ok: false, error: { code: 'not_found', request_id: 'r' } })).toBe(false)
  })
})
