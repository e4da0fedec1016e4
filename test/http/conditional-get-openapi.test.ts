/**
 * The OpenAPI document describes conditional reads on every GET that takes a token (the
 * If-None-Match header, the ETag of the 200, the 304), and nowhere else: not on writes, not on
 * unauthenticated or widget GETs. The document is the same however often it is fetched.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../helpers'

interface Op {
  security?: Record<string, unknown>[]
  parameters?: { name: string; in: string }[]
  responses: Record<string, { headers?: Record<string, unknown>; content?: unknown }>
}

let t: TestApp
let doc: { paths: Record<string, Record<string, Op>> }
beforeAll(async () => {
  t = await createTestApp()
  // The second fetch is the one checked: describing the 304s twice must not change the document.
  await t.call('GET', '/v1/openapi.json', { token: null })
  doc = (await t.call('GET', '/v1/openapi.json', { token: null })).body
})
afterAll(() => t.cleanup())

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, method, op })))
const takesToken = (op: Op) => op.security?.some((s) => 'bearer' in s) === true
const conditional = (op: Op) => ({
  ifNoneMatch: (op.parameters ?? []).filter((p) => p.in === 'header' && p.name === 'If-None-Match').length,
  etagOn200: op.responses['200']?.headers?.ETag !== undefined,
  notModified: op.responses['304'] !== undefined,
})

describe('OpenAPI: conditional reads', () => {
  test('every token GET documents If-None-Match once, the ETag of its 200, and a 304 without a body that carries the ETag', () => {
    const gets = operations().filter(({ method, op }) => method === 'get' && takesToken(op))
    expect(gets.map((g) => g.name)).toEqual(expect.arrayContaining(['GET /v1/tags', 'GET /v1/tags/{id}', 'GET /v1/messages', 'GET /v1/kb_articles']))
    for (const { name, op } of gets) {
      expect({ name, ...conditional(op) }).toEqual({ name, ifNoneMatch: 1, etagOn200: true, notModified: true })
      expect(op.responses['304']?.content).toBeUndefined()
      expect(op.responses['304']?.headers?.ETag).toBeDefined()
    }
  })

  test('writes, unauthenticated and widget GETs say nothing of it', () => {
    const others = operations().filter(({ method, op }) => method !== 'get' || !takesToken(op))
    expect(others.map((o) => o.name)).toEqual(expect.arrayContaining(['POST /v1/tags', 'PATCH /v1/tags/{id}', 'GET /healthz', 'GET /v1/widget/sessions/{id}']))
    for (const { name, op } of others) expect({ name, ...conditional(op) }).toEqual({ name, ifNoneMatch: 0, etagOn200: false, notModified: false })
  })
})
