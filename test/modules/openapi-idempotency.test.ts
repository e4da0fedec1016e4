/** The OpenAPI document describes the Idempotency-Key on every write, and only there. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../helpers'

type Op = { parameters?: { name: string; in: string; required?: boolean }[]; responses: Record<string, { headers?: Record<string, unknown> }> }

let t: TestApp
let doc: { paths: Record<string, Record<string, Op>> }
beforeAll(async () => {
  t = await createTestApp()
  doc = (await t.call('GET', '/v1/openapi.json', { token: null })).body
})
afterAll(() => t.cleanup())

const operations = () => Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })))
const keyParams = (op: Op) => (op.parameters ?? []).filter((p) => p.name === 'Idempotency-Key')

describe('Idempotency-Key in the OpenAPI document', () => {
  test('every POST, PATCH and DELETE of the API (the widget included) takes the optional header once', () => {
    const writes = operations().filter((o) => ['post', 'patch', 'delete'].includes(o.method))
    expect(writes.length).toBeGreaterThan(30)
    for (const { path, method, op } of writes) {
      expect({ path, method, params: keyParams(op).map((p) => [p.in, p.required]) }).toEqual({ path, method, params: [['header', false]] })
    }
    expect(writes.map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining(['post /v1/tags', 'delete /v1/tags/{id}', 'post /v1/widget/sessions/{id}/messages']),
    )
  })

  test('writes document the replay headers on what can be replayed, and the 409 and 422 of a key', () => {
    const op = doc.paths['/v1/tags/{id}']?.patch as Op
    expect(Object.keys(op.responses)).toEqual(['200', '400', '401', '403', '404', '409', '413', '422', '429'])
    for (const status of ['200', '400', '404', '409', '422'])
      expect(Object.keys(op.responses[status]?.headers ?? {})).toEqual(['Idempotent-Replayed', 'Original-Request'])
    // A 429 is never stored, so never replayed.
    expect(op.responses['429']?.headers).toBeUndefined()
    expect(JSON.stringify(op.responses['422'])).toContain('idempotency_mismatch')
  })

  test('reads do not take it', () => {
    for (const { op } of operations().filter((o) => o.method === 'get')) expect(keyParams(op)).toEqual([])
  })

  test('the document served again is the same (the header is added once)', async () => {
    const again = (await t.call('GET', '/v1/openapi.json', { token: null })).body
    expect(again).toEqual(doc)
  })
})
