/**
 * Handing a chat from the bot to a human: the summary is made first (it may call the provider),
 * then one transaction moves the session to `waiting_human`, posts the notice the visitor sees,
 * records the handoff and enqueues the `handoff` webhook (outbox). Realtime pushes and the
 * worker's wake-up follow the commit.
 */
import { isoUtc } from '../clock'
import type { ChatMessageRow, ChatSessionRow, HandoffView } from '../db/rows'
import type { Handoff } from '../modules/handoffs/model'
import { enqueueEvent } from '../webhooks/enqueue'
import { type BotTokens, type BotTurn, HANDOFF_NOTICE } from './bot/provider'
import type { ChatContext } from './context'
import { presentHandoff, presentMessage, visitorRef } from './present'
import { sessionTopic, siteTopic } from './realtime'
import { extractiveSummary } from './summary'

export type HandoffReason = 'visitor_requested' | 'low_confidence' | 'bot_error' | 'max_turns'

/** Messages given to the summariser (the most recent ones). */
const SUMMARY_HISTORY = 50

/**
 * Phrases that mean "get me a person". Matched on lower-cased text with punctuation removed.
 * Kept narrow on purpose: "human resources" or "is this a real product?" must not hand off.
 */
const HUMAN_PATTERNS = [
  /\b(talk|speak|chat|connect|transfer)\w* (me )?(to|with) (a |an |the |some )?(real |live |actual )?(human|person|agent|operator|representative|rep|someone|somebody|people|staff|support team)\b/,
  /\b(human|live|real) (agent|person|support|operator|representative|being)\b/,
  /\b(get|give|want|need) (me )?(a |an |some )?(real |live |actual )?(human|person|agent|operator)\b/,
  /^(human|agent|operator|representative|person)( please)?$/,
  /\b(don t|dont|do not|no more|stop|enough) (want )?(talking |to talk |chatting |to chat )?(to |with )?(a |the |this |your )?(bot|robot|machine)s?\b/,
]

/** True when the visitor's message asks for a human. */
export function wantsHuman(text: string): boolean {
  const norm = text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  return HUMAN_PATTERNS.some((p) => p.test(norm))
}

/** What a handoff produced: the notice shown to the visitor and the handoff record. */
export interface HandoffResult {
  notice: ChatMessageRow
  handoff: Handoff
}

async function summarize(ctx: ChatContext, history: BotTurn[], reason: HandoffReason): Promise<{ summary: string; tokens: BotTokens }> {
  // After a provider failure another call would likely fail (or time out) too.
  if (reason === 'bot_error') return { summary: extractiveSummary(history), tokens: { input: 0, output: 0 } }
  try {
    const s = await ctx.provider.summarize(history, reason)
    const summary = s.summary.trim()
    if (summary) return { summary: summary.slice(0, 2000), tokens: s.tokens }
  } catch (err) {
    ctx.logger.warn('bot summary failed; using the extractive summary', { provider: ctx.provider.name, error: String((err as Error)?.message ?? err) })
  }
  return { summary: extractiveSummary(history), tokens: { input: 0, output: 0 } }
}

/** The handoff webhook's fields (the product page's, plus the visitor's key). */
export function handoffPayload(view: HandoffView): Record<string, unknown> {
  return {
    session_id: view.session_id,
    visitor: visitorRef(view),
    handoff_reason: view.reason,
    summary: view.summary,
    created_utc: isoUtc(view.created_ms),
  }
}

/**
 * Hands `session` to a human. `spent` is what a declined answer cost (recorded on the notice).
 * Returns null when the session had already left the bot (handed off, taken or closed meanwhile).
 */
export async function handOff(ctx: ChatContext, session: ChatSessionRow, reason: HandoffReason, spent?: BotTokens): Promise<HandoffResult | null> {
  const { store, clock } = ctx
  if (session.status !== 'bot') return null
  const history = (await store.chat.recentMessages(session.seq, SUMMARY_HISTORY)).map((m) => ({ role: m.role, text: m.text }))
  // The summary may call the provider: before the transaction, which awaits only the store.
  const { summary, tokens } = await summarize(ctx, history, reason)
  const noticeTokens = spent ? spent.input + spent.output : null
  const result = await store.transaction(async (tx) => {
    const now = clock.now()
    if (!(await tx.chat.toWaitingHuman(session.seq, reason, now))) return null
    const notice = await tx.chat.insertMessage(session.seq, session.site_id, 'system', HANDOFF_NOTICE[reason] as string, null, noticeTokens, now)
    const row = await tx.chat.insertHandoff(session.site_id, session.seq, reason, summary, tokens.input + tokens.output, now)
    const view = (await tx.chat.handoffBySession(session.seq)) as HandoffView
    await enqueueEvent(tx, clock, { siteId: session.site_id, type: 'handoff', payload: handoffPayload(view) })
    return { notice, view, row }
  })
  if (!result) return null
  ctx.wakeWebhooks()
  ctx.metrics?.botTokens.inc([ctx.provider.name, 'input'], tokens.input)
  ctx.metrics?.botTokens.inc([ctx.provider.name, 'output'], tokens.output)
  const handoff = presentHandoff(result.view)
  const topics = [sessionTopic(session.id), siteTopic(session.site_id)]
  ctx.hub.publish(topics, { type: 'message', session_id: session.id, message: presentMessage(result.notice, session.id) })
  ctx.hub.publish(topics, { type: 'status', session_id: session.id, status: 'waiting_human', handoff_reason: reason, closed_by: null })
  ctx.hub.publish([siteTopic(session.site_id)], { type: 'handoff', handoff })
  return { notice: result.notice, handoff }
}
