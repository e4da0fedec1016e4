/**
 * The embedded bot (`MLC_AI_PROVIDER=kb`, the default): no network, no model. It replies with the
 * best knowledge-base passage when that passage covers enough of the question (the site's
 * `min_confidence`), and otherwise hands off. Tokens are counted with mlc-approx-1: the question
 * read plus the reply written, as a model would bill them.
 */
import { extractiveSummary } from '../summary'
import { countTokens } from '../tokenizer'
import { type BotAnswer, type BotProvider, type BotRequest, type BotTurn, HANDOFF_NOTICE } from './provider'

/** The reply to a message with no content words ("hi", "hello?"). */
export const CLARIFY_REPLY = 'Hi! What can I help you with? Ask me a question and I will look it up.'

/** A passage as a chat reply: markdown heading lines dropped, unless that leaves nothing. */
export function passageReply(text: string): string {
  const lines = text.split('\n').filter((line) => !/^#{1,6}\s/.test(line))
  return (lines.length > 0 ? lines.join('\n') : text.replace(/^#{1,6}\s+/gm, '')).trim()
}

/** Creates the kb provider. */
export function createKbProvider(): BotProvider {
  return {
    name: 'kb',
    async answer(req: BotRequest): Promise<BotAnswer> {
      const read = countTokens(req.question)
      if (req.retrieval.terms.length === 0) return { kind: 'reply', text: CLARIFY_REPLY, tokens: { input: read, output: countTokens(CLARIFY_REPLY) } }
      const best = req.retrieval.passages[0]
      if (!best || req.retrieval.confidence < req.minConfidence) {
        return { kind: 'handoff', text: HANDOFF_NOTICE.low_confidence as string, tokens: { input: read, output: 0 } }
      }
      const text = passageReply(best.text)
      return { kind: 'reply', text, tokens: { input: read, output: countTokens(text) } }
    },
    async summarize(history: BotTurn[]) {
      return { summary: extractiveSummary(history), tokens: { input: 0, output: 0 } }
    },
  }
}
