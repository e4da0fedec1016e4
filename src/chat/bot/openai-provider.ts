/**
 * The `openai` provider: any OpenAI-compatible chat-completions endpoint (`MLC_AI_BASE_URL`,
 * `MLC_AI_API_KEY`, `MLC_AI_MODEL`). The top knowledge-base passages go in the system prompt;
 * the model answers from them or replies with the single word HANDOFF when they do not hold the
 * answer. Token counts come from the response's `usage`. Any failure (timeout, non-2xx, a
 * response without a message) throws, and the engine hands the chat to a human.
 */
import type { BotAnswer, BotProvider, BotRequest, BotSummary, BotTokens, BotTurn } from './provider'
import { HANDOFF_NOTICE } from './provider'

export interface OpenAiOptions {
  baseUrl: string
  apiKey: string
  model: string
  timeoutMs: number
}

/** Why a provider call failed; the message goes to the log, never to the visitor. */
export class BotProviderError extends Error {}

/** The word the model is told to answer with when the passages do not hold the answer. */
export const HANDOFF_WORD = 'HANDOFF'

interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

/** The system prompt for one answer. */
export function systemPrompt(req: BotRequest): string {
  const context = req.retrieval.passages.map((p, i) => `[${i + 1}] ${p.title}\n${p.text}`).join('\n\n')
  return [
    `You are the support assistant on the website "${req.siteName}". Answer the visitor briefly and politely,`,
    'using only the knowledge base passages below. Do not invent facts, prices or policies.',
    `If the passages do not contain the answer, or the visitor wants a person, reply with exactly ${HANDOFF_WORD} and nothing else.`,
    '',
    'Knowledge base passages:',
    context || '(none matched the question)',
  ].join('\n')
}

function historyMessages(history: BotTurn[]): ChatMessage[] {
  const out: ChatMessage[] = []
  for (const m of history) {
    if (m.role === 'visitor') out.push({ role: 'user', content: m.text })
    else if (m.role === 'ai' || m.role === 'agent') out.push({ role: 'assistant', content: m.text })
  }
  return out
}

function count(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.round(n) : 0
}

/** Token counts from a response's `usage`; a total without the split counts as input. */
function tokensOf(usage: unknown): BotTokens {
  const u = usage as { total_tokens?: unknown; prompt_tokens?: unknown; completion_tokens?: unknown } | undefined
  const input = count(u?.prompt_tokens)
  const output = count(u?.completion_tokens)
  if (input + output === 0) return { input: count(u?.total_tokens), output: 0 }
  return { input, output }
}

/** Creates the openai provider. */
export function createOpenAiProvider(opts: OpenAiOptions): BotProvider {
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/chat/completions`

  async function complete(messages: ChatMessage[], maxTokens: number): Promise<{ content: string; tokens: BotTokens }> {
    let res: Response
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) },
        body: JSON.stringify({ model: opts.model, messages, temperature: 0.2, max_tokens: maxTokens }),
        signal: AbortSignal.timeout(opts.timeoutMs),
        redirect: 'error',
      })
    } catch (err) {
      const name = (err as Error)?.name
      throw new BotProviderError(name === 'TimeoutError' ? `timed out after ${opts.timeoutMs} ms` : `request failed: ${String((err as Error)?.message ?? err)}`)
    }
    let body: unknown
    try {
      body = await res.json()
    } catch {
      throw new BotProviderError(`HTTP ${res.status} with a body that is not JSON`)
    }
    if (!res.ok) {
      const message = (body as { error?: { message?: unknown } })?.error?.message
      throw new BotProviderError(`HTTP ${res.status}${typeof message === 'string' ? `: ${message}` : ''}`)
    }
    const content = (body as { choices?: { message?: { content?: unknown } }[] })?.choices?.[0]?.message?.content
    if (typeof content !== 'string' || !content.trim()) throw new BotProviderError('the response has no message content')
    return { content: content.trim(), tokens: tokensOf((body as { usage?: unknown }).usage) }
  }

  return {
    name: 'openai',
    async answer(req: BotRequest): Promise<BotAnswer> {
      const messages: ChatMessage[] = [{ role: 'system', content: systemPrompt(req) }, ...historyMessages(req.history), { role: 'user', content: req.question }]
      const { content, tokens } = await complete(messages, 500)
      if (content.replace(/[^A-Za-z]/g, '').toUpperCase() === HANDOFF_WORD) return { kind: 'handoff', text: HANDOFF_NOTICE.low_confidence as string, tokens }
      return { kind: 'reply', text: content, tokens }
    },
    async summarize(history: BotTurn[], reason: string): Promise<BotSummary> {
      const transcript = history.map((m) => `${m.role}: ${m.text}`).join('\n')
      const { content, tokens } = await complete(
        [
          {
            role: 'system',
            content: `Summarize this support chat for the human agent taking it over (handoff reason: ${reason}). At most two sentences: what the visitor needs and what was already tried.`,
          },
          { role: 'user', content: transcript || '(no messages)' },
        ],
        150,
      )
      return { summary: content, tokens }
    },
  }
}
