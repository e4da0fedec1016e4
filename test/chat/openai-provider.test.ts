/**
 * The `openai` provider against a fake OpenAI-compatible server on 127.0.0.1: answers with kb
 * context, HANDOFF means low confidence, the provider's summary, token counts from `usage`, and
 * every failure (timeout, HTTP error, garbage) handing the chat to a human as bot_error.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { ConfigError, loadConfig } from '../../src/config'
import { createTestApp, expectError, type TestApp } from '../helpers'
import { seedKb, siteKeyOf, Visitor } from './harness'

type Mode = 'answer' | 'handoff' | 'slow' | 'http500' | 'not-json' | 'no-choices'

interface Seen {
  authorization: string | null
  body: { model: string; messages: { role: string; content: string }[] }
}

let mode: Mode = 'answer'
let summaryMode: 'ok' | 'fail' = 'ok'
const seen: Seen[] = []
let fake: ReturnType<typeof Bun.serve>
let t: TestApp
/** Site 1's publishable key, read once the app is up. */
let siteKey = ''

const completion = (content: string, usage: Record<string, number>) =>
  Response.json({ id: 'chatcmpl-1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage })

beforeAll(async () => {
  fake = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const url = new URL(req.url)
      if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') return new Response('not found', { status: 404 })
      const body = (await req.json()) as Seen['body']
      seen.push({ authorization: req.headers.get('authorization'), body })
      const system = body.messages[0]?.content ?? ''
      if (system.startsWith('Summarize')) {
        if (summaryMode === 'fail') return Response.json({ error: { message: 'overloaded' } }, { status: 503 })
        return completion('Visitor wants a refund for an enterprise plan; the kb had no answer.', {
          prompt_tokens: 40,
          completion_tokens: 15,
          total_tokens: 55,
        })
      }
      switch (mode) {
        case 'answer': {
          const question = body.messages.at(-1)?.content ?? ''
          return completion(`Fake answer to: ${question}`, { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 })
        }
        case 'handoff':
          return completion('HANDOFF', { prompt_tokens: 90, completion_tokens: 2, total_tokens: 92 })
        case 'slow':
          await Bun.sleep(1500)
          return completion('too late', { total_tokens: 1 })
        case 'http500':
          return Response.json({ error: { message: 'boom' } }, { status: 500 })
        case 'not-json':
          return new Response('<html>bad gateway</html>', { status: 200 })
        case 'no-choices':
          return Response.json({ choices: [] })
      }
    },
  })
  t = await createTestApp({
    MLC_AI_PROVIDER: 'openai',
    MLC_AI_BASE_URL: `http://127.0.0.1:${fake.port}/v1/`,
    MLC_AI_API_KEY: 'sk-test-key',
    MLC_AI_MODEL: 'fake-model-1',
    MLC_AI_TIMEOUT_MS: '300',
  })
  siteKey = await siteKeyOf(t, t.site1)
  await seedKb(t)
})
afterAll(async () => {
  await t.cleanup()
  fake.stop(true)
})
beforeEach(() => {
  mode = 'answer'
  summaryMode = 'ok'
  seen.length = 0
})

let n = 0
function visitor(): Visitor {
  n++
  return new Visitor(t, siteKey, { anon_id: `oa-${n}` }, `10.3.0.${n}`)
}

async function handoffOf(sid: string) {
  const list = await t.call('GET', '/v1/handoffs?limit=100')
  return list.body.data.find((h: { session_id: string }) => h.session_id === sid)
}

describe('openai provider', () => {
  test('answers with the kb passages as context, the conversation, the model and the key', async () => {
    const v = visitor()
    const sid = await v.open()
    const r = await v.say(sid, 'How do I reset my password?')
    expect(r.status).toBe(201)
    expect(r.body.data.reply).toMatchObject({ role: 'ai', text: 'Fake answer to: How do I reset my password?', tokens: 120 })
    expect(seen).toHaveLength(1)
    const req = seen[0] as Seen
    expect(req.authorization).toBe('Bearer sk-test-key')
    expect(req.body.model).toBe('fake-model-1')
    expect(req.body.messages[0]?.role).toBe('system')
    expect(req.body.messages[0]?.content).toContain('To reset your password, open Settings')
    expect(req.body.messages[0]?.content).toContain('HANDOFF')
    expect(req.body.messages.at(-1)).toEqual({ role: 'user', content: 'How do I reset my password?' })

    await v.say(sid, 'And how long must it be?')
    const second = (seen[1] as Seen).body.messages.map((m) => m.role)
    expect(second).toEqual(['system', 'user', 'assistant', 'user'])
  })

  test('HANDOFF means low confidence; the handoff carries the provider summary; usage counts every token', async () => {
    const before = (await t.call('GET', '/v1/usage')).body.data
    mode = 'handoff'
    const v = visitor()
    const sid = await v.open()
    const r = await v.say(sid, 'Do you refund enterprise plans?')
    expect(r.body.data).toMatchObject({ status: 'waiting_human', reply: { role: 'system', tokens: 92 } })
    expect(await handoffOf(sid)).toMatchObject({
      handoff_reason: 'low_confidence',
      summary: 'Visitor wants a refund for an enterprise plan; the kb had no answer.',
    })
    const after = (await t.call('GET', '/v1/usage')).body.data
    expect(after).toMatchObject({ provider: 'openai', tokenizer: 'provider usage', ai_replies: before.ai_replies })
    expect(after.bot_tokens - before.bot_tokens).toBe(92 + 55)
  })

  test('a failing summary falls back to the extractive one', async () => {
    mode = 'handoff'
    summaryMode = 'fail'
    const v = visitor()
    const sid = await v.open()
    await v.say(sid, 'Do you refund enterprise plans?')
    expect((await handoffOf(sid)).summary).toBe('The visitor asked: "Do you refund enterprise plans?".')
  })

  const failures: [Mode, string][] = [
    ['slow', 'a reply slower than MLC_AI_TIMEOUT_MS'],
    ['http500', 'an HTTP 500'],
    ['not-json', 'a body that is not JSON'],
    ['no-choices', 'a response without a message'],
  ]
  for (const [m, label] of failures) {
    test(`${label} hands off as bot_error, the visitor still gets a 201 and a notice`, async () => {
      mode = m
      const v = visitor()
      const sid = await v.open()
      const started = performance.now()
      const r = await v.say(sid, 'How do I reset my password?')
      expect(performance.now() - started).toBeLessThan(1200)
      expect(r.status).toBe(201)
      expect(r.body.data).toMatchObject({ status: 'waiting_human', reply: { role: 'system' } })
      expect(r.body.data.reply.text).toContain('cannot answer right now')
      const h = await handoffOf(sid)
      expect(h).toMatchObject({ handoff_reason: 'bot_error' })
      expect(h.summary).toContain('reset my password')
      // No second call for a summary after a failure.
      expect(seen).toHaveLength(1)
    })
  }

  test('a visitor asking for a human never reaches the model', async () => {
    const v = visitor()
    const sid = await v.open()
    await v.say(sid, 'talk to a human')
    expect(seen.filter((s) => !s.body.messages[0]?.content.startsWith('Summarize'))).toHaveLength(0)
    expect((await handoffOf(sid)).handoff_reason).toBe('visitor_requested')
  })

  test('the widget still refuses bad input before any model call', async () => {
    const v = visitor()
    const sid = await v.open()
    expectError(await v.say(sid, 'x'.repeat(4001)), 400, 'bad_request', 'text')
    expect(seen).toHaveLength(0)
  })
})

describe('provider configuration', () => {
  test('MLC_AI_PROVIDER must be kb or openai, and openai needs a base URL', () => {
    expect(() => loadConfig({}, { MLC_AI_PROVIDER: 'gpt' })).toThrow(ConfigError)
    expect(() => loadConfig({}, { MLC_AI_PROVIDER: 'openai' })).toThrow(/MLC_AI_BASE_URL/)
    expect(loadConfig({}, {}).aiProvider).toBe('kb')
  })
})
