/** Bot usage schema. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'

export const Usage = t.Object({
  cycle_start_utc: t.String({ description: "Start of the current monthly billing cycle (anchored on the site's creation)." }),
  cycle_end_utc: t.String({ description: 'End of the cycle (exclusive).' }),
  ai_replies: ResponseInteger({ description: 'AI replies served to visitors this cycle.' }),
  bot_tokens: ResponseInteger({ description: 'Tokens the bot used this cycle: answers, declined answers and handoff summaries.' }),
  provider: t.Union([t.Literal('kb'), t.Literal('openai')], { description: 'The bot provider this server runs.' }),
  tokenizer: t.String({ description: "How tokens are counted: mlc-approx-1 (kb) or the endpoint's usage (openai)." }),
})
export type Usage = Static<typeof Usage>
