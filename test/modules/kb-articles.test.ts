/** kb_articles: CRUD, validation, search, cross-site isolation, and the bot answering from edits at once. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { siteKeyOf, Visitor } from '../chat/harness'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(() => t.cleanup())

describe('kb_articles', () => {
  test('create answers 201 with the article and its passage count; GET and list show it', async () => {
    const r = await t.call('POST', '/v1/kb_articles', { body: { title: ' Shipping ', body: 'We ship worldwide.\n\nOrders leave within 2 days.' } })
    expect(r.status).toBe(201)
    expect(r.body.data.id).toBeGreaterThan(0)
    expect(r.body.data).toMatchObject({ title: 'Shipping', body: 'We ship worldwide.\n\nOrders leave within 2 days.', passages: 2 })
    expect((await t.call('GET', `/v1/kb_articles/${r.body.data.id}`, { token: t.readToken })).body.data).toEqual(r.body.data)
    const list = await t.call('GET', '/v1/api.ashx?resource=kb_articles', { token: t.readToken })
    expect(list.body.data).toContainEqual(r.body.data)
    expect(list.body).toMatchObject({ has_more: false, next_cursor: null })
  })

  test('the list pages oldest first with a cursor', async () => {
    for (let i = 0; i < 3; i++) await t.call('POST', '/v1/kb_articles', { body: { title: `Page ${i}`, body: `Body ${i}` } })
    const first = await t.call('GET', '/v1/kb_articles?limit=2')
    expect(first.body.has_more).toBe(true)
    const second = await t.call('GET', `/v1/kb_articles?limit=2&cursor=${first.body.next_cursor}`)
    expect(second.body.data[0].id).toBeGreaterThan(first.body.data[1].id)
  })

  test('q= searches with BM25, best first', async () => {
    await t.call('POST', '/v1/kb_articles', { body: { title: 'Refund policy', body: 'Refunds are issued within 14 days of purchase.' } })
    const r = await t.call('GET', '/v1/kb_articles?q=how%20do%20refunds%20work')
    expect(r.body.data[0].title).toBe('Refund policy')
    expect((await t.call('GET', '/v1/kb_articles?q=the')).body.data).toEqual([])
  })

  test('PATCH re-indexes: the bot answers from the new text at once; DELETE stops it', async () => {
    const pk = await siteKeyOf(t, t.site1)
    const a = await t.call('POST', '/v1/kb_articles', { body: { title: 'Opening hours', body: 'Support is open 9 to 5 on weekdays.' } })
    const v = new Visitor(t, pk, { anon_id: 'kb-v1' })
    const sid = await v.open()
    expect((await v.say(sid, 'When is support open on weekdays?')).body.data.reply.text).toBe('Support is open 9 to 5 on weekdays.')
    const p = await t.call('PATCH', `/v1/kb_articles/${a.body.data.id}`, { body: { body: 'Support is open around the clock, every day including weekdays.' } })
    expect(p.body.data).toMatchObject({ title: 'Opening hours', passages: 1 })
    expect(Date.parse(p.body.data.updated_utc)).toBeGreaterThanOrEqual(Date.parse(p.body.data.created_utc))
    expect((await v.say(sid, 'When is support open on weekdays?')).body.data.reply.text).toContain('around the clock')
    const d = await t.call('DELETE', `/v1/kb_articles/${a.body.data.id}`)
    expect(d.body.data).toEqual({ id: a.body.data.id, deleted: true })
    expectError(await t.call('GET', `/v1/kb_articles/${a.body.data.id}`), 404, 'not_found', 'id')
    expect((await t.call('GET', '/v1/kb_articles?q=weekdays%20support')).body.data).toEqual([])
  })

  const bad: [string, unknown, string][] = [
    ['title missing', { body: 'b' }, 'title'],
    ['title blank', { title: '   ', body: 'b' }, 'title'],
    ['title too long', { title: 'x'.repeat(201), body: 'b' }, 'title'],
    ['body missing', { title: 't' }, 'body'],
    ['body too long', { title: 't', body: 'x'.repeat(50_001) }, 'body'],
    ['body not a string', { title: 't', body: 5 }, 'body'],
  ]
  for (const [label, body, param] of bad) {
    test(`400 when ${label}`, async () => {
      expectError(await t.call('POST', '/v1/kb_articles', { body }), 400, 'bad_request', param)
    })
  }

  test('PATCH or DELETE without an id is a 400 naming id; an unknown id is a 404', async () => {
    expectError(await t.call('PATCH', '/v1/kb_articles', { body: { title: 'x' } }), 400, 'bad_request', 'id')
    expectError(await t.call('DELETE', '/v1/kb_articles'), 400, 'bad_request', 'id')
    expectError(await t.call('PATCH', '/v1/kb_articles/999999', { body: { title: 'x' } }), 404, 'not_found', 'id')
  })

  test("another site neither sees, finds, changes nor answers from this site's articles", async () => {
    const a = await t.call('POST', '/v1/kb_articles', { body: { title: 'Secret roadmap', body: 'Quantum widgets ship in March.' } })
    const id = a.body.data.id
    expectError(await t.call('GET', `/v1/kb_articles/${id}`, { token: t.otherSiteToken }), 404, 'not_found')
    expectError(await t.call('PATCH', `/v1/kb_articles/${id}`, { token: t.otherSiteToken, body: { title: 'x' } }), 404, 'not_found')
    expectError(await t.call('DELETE', `/v1/kb_articles/${id}`, { token: t.otherSiteToken }), 404, 'not_found')
    expect((await t.call('GET', '/v1/kb_articles?q=quantum%20widgets', { token: t.otherSiteToken })).body.data).toEqual([])
    const v = new Visitor(t, await siteKeyOf(t, t.site2), { anon_id: 'kb-other' })
    const sid = await v.open()
    expect((await v.say(sid, 'When do quantum widgets ship?')).body.data.status).toBe('waiting_human')
  })
})

describe('chat_settings', () => {
  test('defaults, partial update, and 400s naming the field', async () => {
    expect((await t.call('GET', '/v1/chat_settings', { token: t.readToken })).body.data).toEqual({ max_bot_replies: 5, min_confidence: 0.5 })
    expect((await t.call('PATCH', '/v1/chat_settings', { body: { min_confidence: 0.8 } })).body.data).toEqual({ max_bot_replies: 5, min_confidence: 0.8 })
    expect((await t.call('GET', '/v1/chat_settings', { token: t.otherSiteToken })).body.data.min_confidence).toBe(0.5)
    expectError(await t.call('PATCH', '/v1/chat_settings', { body: { max_bot_replies: 0 } }), 400, 'bad_request', 'max_bot_replies')
    expectError(await t.call('PATCH', '/v1/chat_settings', { body: { min_confidence: 1.5 } }), 400, 'bad_request', 'min_confidence')
    await t.call('PATCH', '/v1/chat_settings', { body: { min_confidence: 0.5 } })
  })
})
