/**
 * The bench's contract floor answers what mlc answers for GET /v1/tags: the same headers, the same
 * body with its own request id, 304 on a current ETag and 401 without its token. If mlc's answer
 * grows a header, this fails until the floor sends it too (or the floor would flatter mlc).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { startContractFloor } from '../../../scripts/bench/lib'
import { createTestApp, type TestApp } from '../../helpers'

let t: TestApp
let floor: { url: string; stop(): Promise<void> }
let mlcAnswer: Response
let mlcBody: { data: unknown[] }
const token = 'mlc_floor_test_token'

beforeAll(async () => {
  t = await createTestApp()
  for (const name of ['billing', 'sales']) await t.request('POST', '/v1/tags', { token: t.writeToken, body: { name, color: '#2563eb' } })
  mlcAnswer = await t.app.handle(new Request('http://localhost/v1/tags', { headers: { authorization: `Bearer ${t.readToken}` } }))
  mlcBody = (await mlcAnswer.clone().json()) as { data: unknown[] }
  floor = await startContractFloor(token, JSON.stringify(mlcBody.data))
})
afterAll(async () => {
  await floor?.stop()
  await t?.cleanup()
})

const headerNames = (r: Response) => [...r.headers.keys()].filter((k) => k !== 'date' && k !== 'content-length').sort()

test('the same headers and the same body as mlc, with a fresh request id', async () => {
  const res = await fetch(`${floor.url}/v1/tags`, { headers: { authorization: `Bearer ${token}` } })
  expect(res.status).toBe(200)
  expect(headerNames(res)).toEqual(headerNames(mlcAnswer))
  // The rate-limit values depend on the site's limit; these do not.
  for (const same of ['content-type', 'access-control-allow-origin', 'access-control-expose-headers']) {
    expect(res.headers.get(same)).toBe(mlcAnswer.headers.get(same) as string)
  }
  const body = (await res.json()) as { ok: boolean; data: unknown[]; request_id: string }
  expect(body.data).toEqual(mlcBody.data)
  expect(body.request_id).toBe(res.headers.get('x-mlc-request-id') as string)
  expect(body.request_id).toMatch(/^[0-9a-f]{32}$/)
})

test('304 on its current ETag, 401 without its token', async () => {
  const first = await fetch(`${floor.url}/v1/tags`, { headers: { authorization: `Bearer ${token}` } })
  const again = await fetch(`${floor.url}/v1/tags`, { headers: { authorization: `Bearer ${token}`, 'if-none-match': first.headers.get('etag') as string } })
  expect(again.status).toBe(304)
  expect((await fetch(`${floor.url}/v1/tags`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401)
})
