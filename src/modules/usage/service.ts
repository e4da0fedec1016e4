/** Bot usage in the current monthly billing cycle, counted from the stored replies. */
import { billingCycle } from '../../chat/billing-cycle'
import type { ChatContext } from '../../chat/context'
import { TOKENIZER_NAME } from '../../chat/tokenizer'
import { isoUtc } from '../../clock'
import { NotFoundError } from '../../errors'
import type { Usage } from './model'

/** The site's AI replies and bot tokens in the cycle holding now. */
export async function currentUsage(ctx: ChatContext, siteId: number): Promise<Usage> {
  const site = await ctx.store.sites.byId(siteId)
  if (!site) throw new NotFoundError(`No site with id ${siteId}.`)
  const cycle = billingCycle(site.created_ms, ctx.clock.now())
  const used = await ctx.store.chat.usage(siteId, cycle.startMs, cycle.endMs)
  return {
    cycle_start_utc: isoUtc(cycle.startMs),
    cycle_end_utc: isoUtc(cycle.endMs),
    ai_replies: used.aiReplies,
    bot_tokens: used.tokens,
    provider: ctx.provider.name,
    tokenizer: ctx.provider.name === 'kb' ? TOKENIZER_NAME : 'provider usage',
  }
}
