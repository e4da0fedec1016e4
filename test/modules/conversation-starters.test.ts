/** conversation_starters: ordered by position, enabled filter, CRUD with write scope, validation, isolation. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(() => t.cleanup())

const prompts = (r: { body: any }) => r.body.data.map((s: { prompt: string }) => s.prompt)

describe('conversation_starters', () => {
  test('GET lists enabled starters by position; all=true includes disabled ones; a new one without position goes last', async () => {
    const a = await t.call('POST', '/v1/conversation_starters', { body: { prompt: 'What does it cost?', position: 2 } })
    expect(a.status).toBe(201)
    expect(a.body.data).toEqual({ id: a.body.data.id, prompt: 'What does it cost?', position: 2, enabled: true })
    await t.call('POST', '/v1/conversation_starters', { body: { prompt: 'Talk to sales', position: 1 } })
    await t.call('POST', '/v1/conversation_starters', { body: { prompt: 'Hidden one', position: 0, enabled: false } })
    const last = await t.call('POST', '/v1/api.ashx?resource=conversation_starters', { body: { prompt: 'Where is my order?' } })
    expect(last.body.data.position).toBe(3)
    expect(prompts(await t.call('GET', '/v1/api.ashx?resource=conversation_starters', { token: t.readToken }))).toEqual([
      'Talk to sales',
      'What does it cost?',
      'Where is my order?',
    ])
    expect(prompts(await t.call('GET', '/v1/conversation_starters?all=true', { token: t.readToken }))).toEqual([
      'Hidden one',
      'Talk to sales',
      'What does it cost?',
      'Where is my order?',
    ])
    expect(prompts(await t.call('GET', '/v1/conversation_starters?all=false'))).not.toContain('Hidden one')
  })

  test('PATCH reorders and toggles; DELETE removes', async () => {
    const s = await t.call('POST', '/v1/conversation_starters', { body: { prompt: 'Temp', position: 50 } })
    const id = s.body.data.id
    const p = await t.call('PATCH', `/v1/conversation_starters/${id}`, { body: { position: -0, enabled: false, prompt: '  Renamed  ' } })
    expect(p.body.data).toEqual({ id, prompt: 'Renamed', position: 0, enabled: false })
    expect(prompts(await t.call('GET', '/v1/conversation_starters'))).not.toContain('Renamed')
    expect((await t.call('PATCH', `/v1/api.ashx?resource=conversation_starters&id=${id}`, { body: { enabled: true } })).body.data.enabled).toBe(true)
    expect(prompts(await t.call('GET', '/v1/conversation_starters'))[0]).toBe('Renamed')
    expect((await t.call('DELETE', `/v1/conversation_starters/${id}`)).body.data).toEqual({ id, deleted: true })
    expectError(await t.call('GET', `/v1/conversation_starters/${id}`), 404, 'not_found', 'id')
  })

  const bad: [string, string, unknown, string][] = [
    ['prompt missing', 'POST', {}, 'prompt'],
    ['prompt empty', 'POST', { prompt: '' }, 'prompt'],
    ['prompt blank', 'POST', { prompt: '   ' }, 'prompt'],
    ['prompt over 200', 'POST', { prompt: 'p'.repeat(201) }, 'prompt'],
    ['position negative', 'POST', { prompt: 'ok', position: -1 }, 'position'],
    ['position fractional', 'POST', { prompt: 'ok', position: 1.5 }, 'position'],
    ['enabled not boolean', 'POST', { prompt: 'ok', enabled: 'yes' }, 'enabled'],
  ]
  for (const [label, method, body, param] of bad) {
    test(`400 when ${label}`, async () => {
      expectError(await t.call(method, '/v1/conversation_starters', { body }), 400, 'bad_request', param)
    })
  }

  test('all= must be a boolean; PATCH/DELETE without id name id', async () => {
    expectError(await t.call('GET', '/v1/conversation_starters?all=maybe'), 400, 'bad_request', 'all')
    expectError(await t.call('PATCH', '/v1/api.ashx?resource=conversation_starters', { body: { enabled: false } }), 400, 'bad_request', 'id')
    expectError(await t.call('DELETE', '/v1/conversation_starters'), 400, 'bad_request', 'id')
  })

  test('writes need write scope; other sites neither see nor touch them', async () => {
    expectError(await t.call('POST', '/v1/conversation_starters', { token: t.readToken, body: { prompt: 'x' } }), 403, 'forbidden')
    const s = await t.call('POST', '/v1/conversation_starters', { body: { prompt: 'Mine only' } })
    const id = s.body.data.id
    expect(prompts(await t.call('GET', '/v1/conversation_starters?all=true', { token: t.otherSiteToken }))).not.toContain('Mine only')
    expectError(await t.call('PATCH', `/v1/conversation_starters/${id}`, { token: t.otherSiteToken, body: { enabled: false } }), 404, 'not_found', 'id')
    expectError(await t.call('DELETE', `/v1/conversation_starters/${id}`, { token: t.otherSiteToken }), 404, 'not_found', 'id')
    expect((await t.call('GET', `/v1/conversation_starters/${id}`)).body.data.enabled).toBe(true)
  })
})
