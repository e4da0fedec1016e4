/**
 * The typed TypeScript client (clients/ts): its types are exactly what openapi-typescript makes of
 * the document this checkout serves (regenerated here and compared with the committed file), and
 * the seed's quickstart (identify a visitor, track an event, list tags) runs through it against a
 * real server on loopback, with an API token and with the site's publishable key.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync, rmSync } from 'node:fs'
import { createMlcClient, type MlcClient, type MlcError } from '../../clients/ts'
import { CLIENT_SCHEMA, clientSchema, servedDocument } from '../../scripts/client'
import { systemClock } from '../../src/clock'
import { loadConfig } from '../../src/config'
import { silentLogger } from '../../src/log'
import { createToken } from '../../src/modules/tokens/service'
import { type RunningServer, startServer } from '../../src/server'
import { openTestStore, tempDir } from '../helpers'

let server: RunningServer
let base: string
let token: string
let publishableKey: string
const dir = tempDir()
// The test engine's database (TEST_ENGINE): the server opens it again from its configuration.
let database: Awaited<ReturnType<typeof openTestStore>>

beforeAll(async () => {
  database = await openTestStore(dir)
  const config = loadConfig({}, { MLC_DATA_DIR: dir, MLC_PORT: '0', MLC_HOST: '127.0.0.1', ...database.env })
  server = await startServer(config, { logger: silentLogger })
  base = `http://127.0.0.1:${server.port}`
  // The first start made site 1; its token as `mlc token create --site 1` would.
  token = (await createToken(server.store, systemClock, { siteId: 1, scopes: 'read,write', name: 'quickstart' })).token
  publishableKey = (await server.store.sites.byId(1))?.publishable_key as string
})

afterAll(async () => {
  await server.stop()
  await database.drop()
  rmSync(dir, { recursive: true, force: true })
})

describe('clients/ts', () => {
  test('schema.d.ts is what openapi-typescript makes of the served document (else: npm run client:generate)', async () => {
    const fresh = clientSchema(await servedDocument())
    const committed = readFileSync(CLIENT_SCHEMA, 'utf8')
    if (committed !== fresh) {
      const a = committed.split('\n')
      const b = fresh.split('\n')
      const line = a.findIndex((l, i) => l !== b[i])
      throw new Error(
        `clients/ts/schema.d.ts is out of date with /v1/openapi.json: run npm run client:generate.\nFirst difference at line ${line + 1}:\n- ${a[line]}\n+ ${b[line]}`,
      )
    }
    expect(committed).toContain('"/v1/visitors": {')
  }, 60_000)

  test("the seed's quickstart: identify a visitor, track an event, list tags", async () => {
    const mlc = createMlcClient({ baseUrl: base, token })

    const identified = await mlc.POST('/v1/visitors', { body: { key: 'u_42', email: 'jay@example.org', name: 'Jay' } })
    expect(identified.response.status).toBe(201)
    expect(identified.error).toBeUndefined()
    expect(identified.data?.data).toMatchObject({ key: 'u_42', email: 'jay@example.org', name: 'Jay' })

    const tracked = await mlc.POST('/v1/track', { body: { key: 'u_42', name: 'viewed_pricing' } })
    expect(tracked.response.status).toBe(201)
    expect(tracked.data?.data).toMatchObject({ name: 'viewed_pricing', duplicate: false })

    const created = await mlc.POST('/v1/tags', { body: { name: 'billing', color: '#2563eb' } })
    expect(created.response.status).toBe(201)
    const tags = await mlc.GET('/v1/tags')
    expect(tags.response.status).toBe(200)
    expect(tags.data?.data).toEqual([{ id: created.data?.data.id as number, name: 'billing', color: '#2563eb' }])
    expect(tags.data?.request_id).toBe(tags.response.headers.get('x-mlc-request-id') as string)

    // Path parameters are typed and filled in.
    const one = await mlc.GET('/v1/tags/{id}', { params: { path: { id: created.data?.data.id as number } } })
    expect(one.data?.data.name).toBe('billing')

    const visitor = await mlc.GET('/v1/visitors/{key}', { params: { path: { key: 'u_42' } } })
    expect(visitor.data?.data).toMatchObject({ key: 'u_42', event_count: 1 })
  })

  test('identify and track with the publishable key, as a browser would', async () => {
    const site = createMlcClient({ baseUrl: base, token: publishableKey })
    const identified = await site.POST('/v1/visitors', { body: { key: 'u_77' } })
    expect(identified.response.status).toBe(201)
    const tracked = await site.POST('/v1/track', { body: { key: 'u_77', name: 'signed_up' } })
    expect(tracked.response.status).toBe(201)
    // Anything else answers 403 in the error envelope, typed as such.
    const refused = await site.GET('/v1/tags')
    expect(refused.response.status).toBe(403)
    expect(refused.error?.error.code).toBe('forbidden')
  })

  test('errors arrive as the typed envelope', async () => {
    const wrong = await createMlcClient({ baseUrl: `${base}/`, token: 'mlc_not_a_token' }).GET('/v1/tags')
    expect(wrong.response.status).toBe(401)
    expect(wrong.data).toBeUndefined()
    const error: MlcError | undefined = wrong.error
    expect(error).toMatchObject({ ok: false, error: { code: 'unauthorized', request_id: wrong.response.headers.get('x-mlc-request-id') as string } })

    const mlc = createMlcClient({ baseUrl: base, token })
    const bad = await mlc.POST('/v1/tags', { body: { name: 'x', color: 'red' } })
    expect(bad.response.status).toBe(400)
    expect(bad.error?.error).toMatchObject({ code: 'bad_request', param: 'color', message: 'color must be a hex color like #2563eb' })
  })
})

/**
 * What the compiler refuses (checked by `tsc --noEmit` in npm test, never run): a path the API
 * does not have, a body field of the wrong type, a missing path parameter.
 */
export function refusedByTheCompiler(mlc: MlcClient) {
  // @ts-expect-error no such path
  void mlc.GET('/v1/no_such_thing')
  // @ts-expect-error name must be a string
  void mlc.POST('/v1/tags', { body: { name: 42 } })
  // @ts-expect-error the id is required
  void mlc.GET('/v1/tags/{id}', {})
}
