/** The OpenAPI document describes visitors, track, segments, starters and site_settings exactly. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../helpers'

let t: TestApp
let doc: any
beforeAll(async () => {
  t = await createTestApp()
  doc = await (await t.app.handle(new Request('http://localhost/v1/openapi.json'))).json()
})
afterAll(() => t.cleanup())

const ours = (p: string) => /^\/v1\/(visitors|track|segments|conversation_starters|site_settings)\b/.test(p)

describe('OpenAPI for the visitor resources', () => {
  test('every route and the statuses it can answer are listed', () => {
    const ops = Object.fromEntries(
      Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)
        .filter(([p]) => ours(p))
        .flatMap(([p, methods]) => Object.entries(methods).map(([m, op]) => [`${m.toUpperCase()} ${p.replace(/\/$/, '')}`, Object.keys(op.responses).sort()])),
    )
    // Every write can also answer the 409 and 422 of an Idempotency-Key (test/modules/openapi-idempotency.test.ts).
    expect(ops['POST /v1/visitors']).toEqual(['200', '201', '400', '401', '403', '409', '413', '422', '429'])
    expect(ops['POST /v1/track']).toEqual(['200', '201', '400', '401', '403', '409', '413', '422', '429'])
    expect(ops['POST /v1/segments']).toEqual(['201', '400', '401', '403', '409', '413', '422', '429'])
    expect(ops['DELETE /v1/visitors']).toEqual(['200', '400', '401', '403', '404', '409', '422', '429'])
    expect(Object.keys(ops)).toEqual(
      expect.arrayContaining(['GET /v1/visitors', 'GET /v1/conversation_starters', 'PATCH /v1/conversation_starters/{id}', 'PATCH /v1/site_settings']),
    )
  })

  test('response integers and booleans are plain types, not string-or-number coercions', () => {
    const coerced: string[] = []
    for (const [p, methods] of Object.entries(doc.paths as Record<string, Record<string, { responses: unknown }>>)) {
      if (!ours(p)) continue
      for (const [m, op] of Object.entries(methods)) {
        const json = JSON.stringify(op.responses)
        if (/"format":"(integer|boolean|numeric)"/.test(json)) coerced.push(`${m} ${p}`)
      }
    }
    expect(coerced).toEqual([])
  })
})
