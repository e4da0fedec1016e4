/** The widget's side of a chat: open, talk, ask for a human, close, rate. Plain functions. */
import type { ChatContext } from '../../chat/context'
import { submitFeedback } from '../../chat/feedback'
import { closeSession, openSession, postVisitorMessage, requestHuman, sessionMessages, type VisitorMessageResult, visitorSession } from '../../chat/sessions'
import { isoUtc } from '../../clock'
import type { ChatSessionRow } from '../../db/rows'
import { BadRequestError } from '../../errors'
import { verifyClaimedKeys } from '../site-settings/service'
import { ANONYMOUS_KEY_PREFIX } from '../visitors/service'
import type { WidgetCaller } from './guard'
import type { OpenedSession, WidgetSession } from './model'

function credential(caller: WidgetCaller) {
  return { anonId: caller.anonId, visitorKey: caller.visitorKey }
}

/** The caller's session `id`, or 404. */
export function callerSession(ctx: ChatContext, caller: WidgetCaller, id: string): Promise<ChatSessionRow> {
  return visitorSession(ctx, caller.site.id, id, credential(caller))
}

/** The WebSocket URL of a session, with the caller's credentials (they are the caller's own). */
export function wsUrlOf(base: string, caller: WidgetCaller, sessionId: string): string {
  const url = new URL('/v1/widget/ws', base)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  url.searchParams.set('session_id', sessionId)
  url.searchParams.set('site_key', caller.site.publishable_key)
  if (caller.anonId !== null) url.searchParams.set('anon_id', caller.anonId)
  else if (caller.visitorKey !== null) url.searchParams.set('visitor_key', caller.visitorKey)
  return url.toString()
}

/**
 * Opens a chat for the caller. A claimed `visitor_key` must carry an identity token when the site
 * requires identity verification (so nobody chats as someone else); an anonymous id needs none.
 */
export async function openWidgetSession(ctx: ChatContext, caller: WidgetCaller, identityToken: string | null, baseUrl: string): Promise<OpenedSession> {
  if (caller.anonId === null && caller.visitorKey === null) {
    throw new BadRequestError('anon_id (or visitor_key for an identified visitor) is required', 'anon_id')
  }
  if (caller.visitorKey !== null) await verifyClaimedKeys(ctx.store, caller.site.id, [caller.visitorKey], identityToken, ctx.clock.now())
  const key = caller.visitorKey ?? ANONYMOUS_KEY_PREFIX + caller.anonId
  const row = await openSession(ctx, caller.site.id, key, caller.anonId)
  const starters = await ctx.store.starters.list(caller.site.id, false)
  return {
    session_id: row.id,
    status: row.status,
    starters: starters.map((s) => ({ id: s.id, prompt: s.prompt })),
    ws_url: wsUrlOf(baseUrl, caller, row.id),
  }
}

/** The session as the widget sees it. */
export async function widgetSessionOf(ctx: ChatContext, row: ChatSessionRow): Promise<WidgetSession> {
  const s = (await ctx.store.chat.sessionBySeq(row.seq)) as ChatSessionRow
  const feedback = await ctx.store.chat.feedbackBySession(s.seq)
  return {
    session_id: s.id,
    status: s.status,
    handoff_reason: s.handoff_reason as WidgetSession['handoff_reason'],
    started_utc: isoUtc(s.started_ms),
    ended_utc: s.ended_ms === null ? null : isoUtc(s.ended_ms),
    rated: feedback !== null,
  }
}

/** The visitor's message and the bot's answer (while the bot has the chat). */
export async function visitorMessage(ctx: ChatContext, caller: WidgetCaller, id: string, text: string): Promise<VisitorMessageResult> {
  const session = await callerSession(ctx, caller, id)
  const clean = text.trim()
  if (!clean) throw new BadRequestError('text must not be blank', 'text')
  return postVisitorMessage(ctx, session, clean)
}

/** The session's messages after `after`. */
export async function visitorMessages(ctx: ChatContext, caller: WidgetCaller, id: string, after: number, limit: number) {
  const session = await callerSession(ctx, caller, id)
  const page = await sessionMessages(ctx, session, after, limit)
  const now = (await ctx.store.chat.sessionBySeq(session.seq)) as ChatSessionRow
  return { session_id: session.id, status: now.status, messages: page.messages, has_more: page.has_more }
}

/** The visitor asks for a human. */
export async function visitorHandoff(ctx: ChatContext, caller: WidgetCaller, id: string, note: string | undefined): Promise<WidgetSession> {
  const session = await callerSession(ctx, caller, id)
  await requestHuman(ctx, session, note)
  return widgetSessionOf(ctx, session)
}

/** The visitor closes the chat. */
export async function visitorClose(ctx: ChatContext, caller: WidgetCaller, id: string): Promise<WidgetSession> {
  const session = await callerSession(ctx, caller, id)
  await closeSession(ctx, session, 'visitor')
  return widgetSessionOf(ctx, session)
}

/** The visitor rates the closed chat (once). */
export async function visitorFeedback(ctx: ChatContext, caller: WidgetCaller, id: string, rating: number, comment: string | null | undefined) {
  const session = await callerSession(ctx, caller, id)
  const f = await submitFeedback(ctx, session, rating, comment?.trim() ? comment.trim() : null)
  return { session_id: f.session_id, rating: f.rating, comment: f.comment, created_utc: f.created_utc }
}
