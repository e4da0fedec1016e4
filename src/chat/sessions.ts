/**
 * Chat sessions: opening one for a visitor, the visitor's messages and the bot's answers, agent
 * replies, closing (by agent, visitor or inactivity). Every change is committed first and pushed
 * to the realtime hub after, so a subscriber never sees something that was rolled back.
 */

import type { ChatMessageRow, ChatSessionRow, ChatSessionView } from '../db/rows'
import type { TxStore } from '../db/store'
import { ConflictError, NotFoundError } from '../errors'
import type { Message } from '../modules/messages/model'
import type { Session } from '../modules/sessions/model'
import { upsertVisitor } from '../modules/visitors/service'
import { randomSecret } from '../random'
import type { ChatContext } from './context'
import { handOff, wantsHuman } from './handoff'
import { presentMessage, presentSession } from './present'
import { sessionTopic, siteTopic } from './realtime'
import { retrieve } from './retrieval'
import { chatSettings } from './settings'

/** Earlier messages the bot sees with a new question. */
const BOT_HISTORY = 20
/** Most sessions one sweep closes (the next sweep takes the rest). */
const SWEEP_BATCH = 500

export type ClosedBy = 'agent' | 'visitor' | 'inactivity'

/** The visitor's credential for a session: the anonymous id, or the visitor key. */
export interface VisitorCredential {
  anonId?: string | null
  visitorKey?: string | null
}

/** What the visitor's message produced. */
export interface VisitorMessageResult {
  message: Message
  /** The bot's answer, or the handoff notice; null while a human has the chat. */
  reply: Message | null
  status: Session['status']
}

async function view(ctx: ChatContext, seq: number): Promise<ChatSessionView> {
  return (await ctx.store.chat.sessionViewBySeq(seq)) as ChatSessionView
}

function pushMessage(ctx: ChatContext, session: ChatSessionRow, row: ChatMessageRow): Message {
  const message = presentMessage(row, session.id)
  ctx.hub.publish([sessionTopic(session.id), siteTopic(session.site_id)], { type: 'message', session_id: session.id, message })
  return message
}

function pushStatus(ctx: ChatContext, row: ChatSessionRow): void {
  ctx.hub.publish([sessionTopic(row.id), siteTopic(row.site_id)], {
    type: 'status',
    session_id: row.id,
    status: row.status,
    handoff_reason: row.handoff_reason,
    closed_by: row.closed_by,
  })
}

/** The error for a session that is closed. */
function closedError(id: string): ConflictError {
  return new ConflictError(`Chat session ${id} is closed.`, 'session_id')
}

/**
 * The session's current row, read after marking activity on it. The write comes first on
 * purpose: it locks the row until the transaction ends (PostgreSQL), so a close racing with the
 * caller's write either committed before (and the read sees it) or waits for this commit.
 */
async function touchedSession(tx: TxStore, seq: number, nowMs: number): Promise<ChatSessionRow> {
  await tx.chat.touch(seq, nowMs)
  return (await tx.chat.sessionBySeq(seq)) as ChatSessionRow
}

/**
 * Opens a session with the bot for a visitor. `visitorKey` is the stored key (`anon:<id>` for an
 * anonymous visitor), created or marked seen; `anonId`, when given, is what the visitor must show
 * on every later call.
 */
export async function openSession(ctx: ChatContext, siteId: number, visitorKey: string, anonId: string | null): Promise<ChatSessionRow> {
  await upsertVisitor(ctx.store, ctx.clock, siteId, { key: visitorKey })
  const row = await ctx.store.chat.insertSession(randomSecret('cs_', 16), siteId, visitorKey, anonId, ctx.clock.now())
  ctx.hub.publish([siteTopic(siteId)], { type: 'session', session: presentSession(await view(ctx, row.seq)) })
  return row
}

/**
 * The site's session `id` if `who` is its visitor. Anything else (unknown id, another site's
 * session, another visitor) is the same 404, so a caller learns nothing about other chats.
 */
export async function visitorSession(ctx: ChatContext, siteId: number, id: string, who: VisitorCredential): Promise<ChatSessionRow> {
  const row = await ctx.store.chat.sessionById(id)
  const ok =
    row !== null &&
    row.site_id === siteId &&
    (row.anon_id !== null ? who.anonId === row.anon_id : typeof who.visitorKey === 'string' && who.visitorKey === row.visitor_key)
  if (!ok || !row) throw new NotFoundError(`No chat session ${id} for this visitor.`, 'session_id')
  return row
}

/** A site's session for an agent, or 404 naming `param`. */
export async function siteSession(ctx: ChatContext, siteId: number, id: string, param = 'id'): Promise<ChatSessionView> {
  const row = await ctx.store.chat.sessionView(siteId, id)
  if (!row) throw new NotFoundError(`No chat session ${id}.`, param)
  return row
}

/** The session as the API shows it. */
export async function sessionOf(ctx: ChatContext, seq: number): Promise<Session> {
  return presentSession(await view(ctx, seq))
}

/**
 * Stores the visitor's message, then, while the bot has the chat: hands off if the visitor asks
 * for a human or the bot has used its replies, else asks the provider. A provider failure hands
 * off (`bot_error`) instead of failing the request. The provider is asked outside any transaction.
 */
export async function postVisitorMessage(ctx: ChatContext, session: ChatSessionRow, text: string): Promise<VisitorMessageResult> {
  const { store, clock, provider } = ctx
  if (session.status === 'closed') throw closedError(session.id)
  const row = await store.transaction(async (tx) => {
    const now = clock.now()
    const current = await touchedSession(tx, session.seq, now)
    if (current.status === 'closed') throw closedError(session.id)
    return { message: await tx.chat.insertMessage(session.seq, session.site_id, 'visitor', text, null, null, now), current }
  })
  const message = pushMessage(ctx, session, row.message)
  const current = row.current
  if (current.status !== 'bot') return { message, reply: null, status: current.status }

  const viaHandoff = async (reason: Parameters<typeof handOff>[2], spent?: Parameters<typeof handOff>[3]): Promise<VisitorMessageResult> => {
    const h = await handOff(ctx, current, reason, spent)
    const now = (await store.chat.sessionBySeq(session.seq)) as ChatSessionRow
    return { message, reply: h ? presentMessage(h.notice, session.id) : null, status: now.status }
  }

  if (wantsHuman(text)) return viaHandoff('visitor_requested')
  const settings = await chatSettings(store, session.site_id)
  if (current.bot_replies >= settings.max_bot_replies) return viaHandoff('max_turns')

  const history = (await store.chat.recentMessages(session.seq, BOT_HISTORY + 1))
    .filter((m) => m.id !== row.message.id)
    .map((m) => ({ role: m.role, text: m.text }))
  const site = await store.sites.byId(session.site_id)
  let answer: Awaited<ReturnType<typeof provider.answer>>
  try {
    answer = await provider.answer({
      siteName: site?.name ?? 'this site',
      question: text,
      history,
      retrieval: await retrieve(store, session.site_id, text),
      minConfidence: settings.min_confidence,
    })
  } catch (err) {
    ctx.logger.warn('bot provider failed; handing off', { provider: provider.name, session_id: session.id, error: String((err as Error)?.message ?? err) })
    ctx.metrics?.botReplies.inc([provider.name, 'error'])
    return viaHandoff('bot_error')
  }
  ctx.metrics?.botTokens.inc([provider.name, 'input'], answer.tokens.input)
  ctx.metrics?.botTokens.inc([provider.name, 'output'], answer.tokens.output)
  if (answer.kind === 'handoff') {
    ctx.metrics?.botReplies.inc([provider.name, 'handoff'])
    return viaHandoff('low_confidence', answer.tokens)
  }
  const reply = await store.transaction(async (tx) => {
    const now = clock.now()
    // An agent may have taken the chat (or it closed) while the provider was thinking.
    if (!(await tx.chat.countBotReply(session.seq, now))) return null
    return tx.chat.insertMessage(session.seq, session.site_id, 'ai', answer.text, null, answer.tokens.input + answer.tokens.output, now)
  })
  if (reply) ctx.metrics?.botReplies.inc([provider.name, 'answered'])
  const after = (await store.chat.sessionBySeq(session.seq)) as ChatSessionRow
  return { message, reply: reply ? pushMessage(ctx, session, reply) : null, status: after.status }
}

/** The visitor asks for a human. Idempotent while a human has (or is about to have) the chat. */
export async function requestHuman(ctx: ChatContext, session: ChatSessionRow, note?: string): Promise<Session> {
  if (session.status === 'closed') throw closedError(session.id)
  if (note?.trim()) {
    const row = await ctx.store.transaction(async (tx) => {
      // Closed since the caller read it (by an agent, or the inactivity sweep): no note after the close notice.
      if ((await touchedSession(tx, session.seq, ctx.clock.now())).status === 'closed') throw closedError(session.id)
      return tx.chat.insertMessage(session.seq, session.site_id, 'visitor', note.trim(), null, null, ctx.clock.now())
    })
    pushMessage(ctx, session, row)
  }
  if (session.status === 'bot') await handOff(ctx, session, 'visitor_requested')
  return sessionOf(ctx, session.seq)
}

/** An agent's reply: the session becomes `human` and the visitor gets it at once. */
export async function postAgentMessage(ctx: ChatContext, siteId: number, sessionId: string, text: string, author: string | null): Promise<Message> {
  const { store, clock } = ctx
  const session = await siteSession(ctx, siteId, sessionId, 'session_id')
  const result = await store.transaction(async (tx) => {
    const now = clock.now()
    const current = await touchedSession(tx, session.seq, now)
    if (current.status === 'closed') throw closedError(sessionId)
    const taken = await tx.chat.toHuman(session.seq, now)
    return { taken, row: await tx.chat.insertMessage(session.seq, siteId, 'agent', text, author, null, now) }
  })
  if (result.taken) pushStatus(ctx, result.taken)
  return pushMessage(ctx, session, result.row)
}

const CLOSE_NOTICE: Record<ClosedBy, (ctx: ChatContext) => string> = {
  agent: () => 'The agent closed this chat.',
  visitor: () => 'You closed this chat.',
  inactivity: (ctx) => `This chat was closed after ${Math.round(ctx.inactivityTimeoutMs / 60_000)} minutes without messages.`,
}

/** Closes a session; 409 when it is closed already. */
export async function closeSession(ctx: ChatContext, session: ChatSessionRow, by: ClosedBy): Promise<Session> {
  const { store, clock } = ctx
  const result = await store.transaction(async (tx) => {
    const now = clock.now()
    const closed = await tx.chat.close(session.seq, by, now)
    if (!closed) return null
    return { closed, notice: await tx.chat.insertMessage(session.seq, session.site_id, 'system', CLOSE_NOTICE[by](ctx), null, null, now) }
  })
  if (!result) throw new ConflictError(`Chat session ${session.id} is already closed.`, by === 'agent' ? 'id' : 'session_id')
  pushMessage(ctx, session, result.notice)
  pushStatus(ctx, result.closed)
  return sessionOf(ctx, session.seq)
}

/** Closes every open session idle for longer than the inactivity timeout; returns how many. */
export async function closeInactiveSessions(ctx: ChatContext): Promise<number> {
  let closed = 0
  for (;;) {
    const idle = await ctx.store.chat.inactive(ctx.clock.now() - ctx.inactivityTimeoutMs, SWEEP_BATCH)
    for (const s of idle) {
      try {
        await closeSession(ctx, s, 'inactivity')
        closed++
      } catch (err) {
        // Closed by someone else between the query and now: nothing to do.
        if (!(err instanceof ConflictError)) throw err
      }
    }
    if (idle.length < SWEEP_BATCH) return closed
  }
}

/** Messages of a session after message id `after`, oldest first, with whether more follow. */
export async function sessionMessages(
  ctx: ChatContext,
  session: ChatSessionRow,
  after: number,
  limit: number,
): Promise<{ messages: Message[]; has_more: boolean }> {
  const rows = await ctx.store.chat.messagesAfter(session.seq, after, limit + 1)
  const has_more = rows.length > limit
  return { messages: (has_more ? rows.slice(0, limit) : rows).map((r) => presentMessage(r, session.id)), has_more }
}
