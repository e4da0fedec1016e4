/** tags: CRUD, validation, uniqueness and cross-site isolation. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(() => t.cleanup())

describe('tags', () => {
  test('create answers 201 with the tag, list shows it', async () => {
    const r = await t.call('POST', '/v1/tags', { body: { name: 'billing', color: '#2563EB' } })
    expect(r.status).toBe(201)
    expect(r.body.data).toEqual({ id: expect.any(Number), name: 'billing', color: '#2563eb' })
    const list = await t.call('GET', '/v1/tags', { token: t.readToken })
    expect(list.body.data).toContainEqual(r.body.data)
  })

  test('a duplicate name is a 409 naming name', async () => {
    await t.call('POST', '/v1/tags', { body: { name: 'dup', color: '#000000' } })
    expectError(await t.call('POST', '/v1/tags', { body: { name: 'dup', color: '#111111' } }), 409, 'conflict', 'name')
  })

  const bad: [string, unknown, string][] = [
    ['color not hex', { name: 'a', color: 'blue' }, 'color'],
    ['color short', { name: 'a', color: '#fff' }, 'color'],
    ['name empty', { name: '', color: '#000000' }, 'name'],
    ['name too long', { name: 'x'.repeat(65), color: '#000000' }, 'name'],
    ['name missing', { color: '#000000' }, 'name'],
    ['name not a string', { name: 5, color: '#000000' }, 'name'],
  ]
  for (const [label, body, param] of bad) {
    test(`400 when ${label}`, async () => {
      expectError(await t.call('POST', '/v1/tags', { body }), 400, 'bad_request', param)
    })
  }

  test('PATCH updates, DELETE removes with { id, deleted: true }', async () => {
    const { body } = await t.call('POST', '/v1/tags', { body: { name: 'temp', color: '#000000' } })
    const id = body.data.id
    const p = await t.call('PATCH', `/v1/tags/${id}`, { body: { name: 'temp2' } })
    expect(p.body.data).toEqual({ id, name: 'temp2', color: '#000000' })
    const d = await t.call('DELETE', `/v1/tags/${id}`)
    expect(d.body.data).toEqual({ id, deleted: true })
    expectError(await t.call('GET', `/v1/tags/${id}`), 404, 'not_found')
  })

  test('PATCH without an id is a 400 naming id', async () => {
    expectError(await t.call('PATCH', '/v1/api.ashx?resource=tags', { body: { name: 'x' } }), 400, 'bad_request', 'id')
  })

  test('renaming onto an existing name is a 409', async () => {
    await t.call('POST', '/v1/tags', { body: { name: 'taken', color: '#000000' } })
    const { body } = await t.call('POST', '/v1/tags', { body: { name: 'free', color: '#000000' } })
    expectError(await t.call('PATCH', `/v1/tags/${body.data.id}`, { body: { name: 'taken' } }), 409, 'conflict', 'name')
  })

  test("another site's token neither sees nor touches this site's tags", async () => {
    const { body } = await t.call('POST', '/v1/tags', { body: { name: 'private', color: '#000000' } })
    const id = body.data.id
    const list = await t.call('GET', '/v1/tags', { token: t.otherSiteToken })
    expect(list.body.data.find((x: { name: string }) => x.name === 'private')).toBeUndefined()
    expectError(await t.call('GET', `/v1/tags/${id}`, { token: t.otherSiteToken }), 404, 'not_found')
    expectError(await t.call('PATCH', `/v1/tags/${id}`, { token: t.otherSiteToken, body: { name: 'stolen' } }), 404, 'not_found')
    expectError(await t.call('DELETE', `/v1/tags/${id}`, { token: t.otherSiteToken }), 404, 'not_found')
    expect((await t.call('GET', `/v1/tags/${id}`)).body.data.name).toBe('private')
  })

  test('the in-memory list follows writes from this process and from other connections', async () => {
    const before = (await t.call('GET', '/v1/tags')).body.data.length
    await t.call('POST', '/v1/tags', { body: { name: 'cached-1', color: '#000000' } })
    expect((await t.call('GET', '/v1/tags')).body.data).toHaveLength(before + 1)
    const { openStore } = await import('../../src/db/open-store')
    const other = await openStore(t.config)
    await other.tags.insert(t.site1, 'from-another-connection', '#000000', t.clock.now())
    await other.close()
    await Bun.sleep(10) // other connections' writes are seen within 5 ms
    const names = (await t.call('GET', '/v1/tags')).body.data.map((x: { name: string }) => x.name)
    expect(names).toContain('from-another-connection')
  })

  test('the same name may exist on two sites', async () => {
    await t.call('POST', '/v1/tags', { body: { name: 'shared', color: '#000000' } })
    expect((await t.call('POST', '/v1/tags', { token: t.otherSiteToken, body: { name: 'shared', color: '#000000' } })).status).toBe(201)
  })
})
