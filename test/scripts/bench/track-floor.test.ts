/**
 * The bench's track floor answers what mlc answers for POST /v1/track: the same status, headers
 * and event fields, the same event again for a repeated event_id, and it stores durably in mlc's
 * own schema. If mlc's answer grows a header or a field, this fails until the floor has it too.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { startTrackFloor } from '../../../scripts/bench/lib'
import { createTestApp, type TestApp } from '../../helpers'

let t: TestApp
let floor: { url: string; stop(): Promise<void> }
const token = 'mlc_floor_test_token'
const event = { key: 'u_1', name: 'viewed_pricing', event_id: 'evt-1', properties: { tier: 'growth' } }

beforeAll(async () => {
  t = await createTestApp()
  floor = await startTrackFloor(token)
})
afterAll(async () => {
  await floor?.stop()
  await t?.cleanup()
})

const headerNames = (r: Response) => [...r.headers.keys()].filter((k) => k !== 'date' && k !== 'content-length').sort()
const post = (body: unknown) =>
  fetch(`${floor.url}/v1/track`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

test('the same status, headers and event fields as mlc', async () => {
  const mlc = await t.request('POST', '/v1/track', { token: t.writeToken, body: event })
  const res = await post(event)
  expect(res.status).toBe(mlc.status)
  expect(headerNames(res)).toEqual(headerNames(mlc))
  const [mine, theirs] = [(await res.json()) as any, (await mlc.json()) as any]
  expect(Object.keys(mine.data).sort()).toEqual(Object.keys(theirs.data).sort())
  expect({ ...mine.data, id: 0, timestamp_utc: '', received_utc: '' }).toEqual({ ...theirs.data, id: 0, timestamp_utc: '', received_utc: '' })
  expect(mine.request_id).toBe(res.headers.get('x-mlc-request-id') as string)
})

test('a repeated event_id answers the first event; a new one is another', async () => {
  const first = (await (await post({ ...event, event_id: 'evt-2' })).json()) as any
  const repeated = await post({ ...event, event_id: 'evt-2' })
  expect(repeated.status).toBe(200)
  const again = (await repeated.json()) as any
  const other = (await (await post({ ...event, event_id: 'evt-3' })).json()) as any
  expect(again.data).toEqual({ ...first.data, duplicate: true })
  expect(other.data.id).not.toBe(first.data.id)
  expect((await post({ name: 'no key' })).status).toBe(400)
})
