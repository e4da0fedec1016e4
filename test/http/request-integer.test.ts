/**
 * RequestInteger must behave like Elysia's t.Integer (which it replaces to keep schema compiles
 * off the start path): same accepted values, same decoded numbers, same rejections and messages,
 * in a query string and in a JSON body; except that it refuses strings that are not plain decimals.
 */
import { describe, expect, test } from 'bun:test'
import { Elysia, t } from 'elysia'
import { RequestInteger } from '../../src/http/request-integer'

const options = { minimum: 1, maximum: 100, error: 'limit must be an integer from 1 to 100' }

function appWith(integer: (o: typeof options) => unknown) {
  const schema = integer(options) as ReturnType<typeof t.Integer>
  return new Elysia()
    .onError(({ error, set }) => {
      set.status = 400
      return { message: (error as Error).message }
    })
    .get('/q', ({ query }) => ({ value: query.limit, type: typeof query.limit }), { query: t.Object({ limit: t.Optional(schema) }) })
    .post('/b', ({ body }) => ({ value: body.limit, type: typeof body.limit }), { body: t.Object({ limit: schema }) })
}

async function answer(app: ReturnType<typeof appWith>, req: Request) {
  const res = await app.handle(req)
  const body = await res.json()
  // Both apps route every request; a 404 would make the comparisons below say nothing.
  expect(body.message).not.toBe('NOT_FOUND')
  return { status: res.status, body }
}

describe('RequestInteger', () => {
  const ours = appWith(RequestInteger)
  const elysias = appWith((o) => t.Integer(o))

  for (const raw of ['20', '1', '100', '0', '101', '-3', 'abc', '1.5', '', '007']) {
    test(`query limit=${JSON.stringify(raw)} is treated as t.Integer treats it`, async () => {
      const url = `http://localhost/q?limit=${encodeURIComponent(raw)}`
      const expected = await answer(elysias, new Request(url))
      const actual = await answer(ours, new Request(url))
      expect(actual).toEqual(expected)
    })
  }

  for (const value of [20, 0, 101, 2.5, '20', 'x', null, true]) {
    test(`JSON limit ${JSON.stringify(value)} is treated as t.Integer treats it`, async () => {
      const make = () =>
        new Request('http://localhost/b', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ limit: value }) })
      const expected = await answer(elysias, make())
      const actual = await answer(ours, make())
      expect(actual).toEqual(expected)
    })
  }

  test('decodes to a number and refuses out-of-range values with the schema error', async () => {
    expect(await answer(ours, new Request('http://localhost/q?limit=42'))).toEqual({ status: 200, body: { value: 42, type: 'number' } })
    const refused = await answer(ours, new Request('http://localhost/q?limit=500'))
    expect(refused.status).toBe(400)
    expect(refused.body.message).toContain('limit must be an integer from 1 to 100')
  })

  test('a string must be a plain decimal: what t.Integer reads loosely is refused with the schema error', async () => {
    for (const raw of ['0x10', '1e2', ' 7', '7 ', '+7', '7.0']) {
      const loose = await answer(elysias, new Request(`http://localhost/q?limit=${encodeURIComponent(raw)}`))
      expect(loose.status).toBe(200) // Elysia's own type accepts it (0x10 is 16)
      for (const req of [
        new Request(`http://localhost/q?limit=${encodeURIComponent(raw)}`),
        new Request('http://localhost/b', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ limit: raw }) }),
      ]) {
        const refused = await answer(ours, req)
        expect(refused.status).toBe(400)
        expect(refused.body.message).toContain('limit must be an integer from 1 to 100')
      }
    }
  })

  test('the schema looks the same as t.Integer (so the OpenAPI document does not change)', () => {
    expect(JSON.parse(JSON.stringify(RequestInteger(options)))).toEqual(JSON.parse(JSON.stringify(t.Integer(options))))
  })
})
