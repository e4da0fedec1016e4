/** The API shapes of chat rows, shared by the resources, the widget and the realtime events. */
import { isoUtc } from '../clock'
import type { ChatMessageRow, ChatSessionView, FeedbackView, HandoffView } from '../db/rows'
import type { Feedback } from '../modules/feedback/model'
import type { Handoff } from '../modules/handoffs/model'
import type { Message } from '../modules/messages/model'
import type { Session, VisitorRef } from '../modules/sessions/model'

/** The visitor reference of a joined row. */
export function visitorRef(row: { visitor_key: string | null; visitor_name: string | null; visitor_email: string | null }): VisitorRef {
  return { key: row.visitor_key, name: row.visitor_name, email: row.visitor_email }
}

/** A message as the API shows it (`tokens` only where the bot spent some). */
export function presentMessage(row: ChatMessageRow, sessionId: string): Message {
  const m: Message = { id: row.id, session_id: sessionId, role: row.role, text: row.text, author: row.author, created_utc: isoUtc(row.created_ms) }
  if (row.tokens !== null) m.tokens = row.tokens
  return m
}

/** A session as the API shows it. */
export function presentSession(row: ChatSessionView): Session {
  return {
    id: row.id,
    status: row.status,
    visitor: visitorRef(row),
    handoff_reason: row.handoff_reason as Session['handoff_reason'],
    closed_by: row.closed_by as Session['closed_by'],
    bot_replies: row.bot_replies,
    started_utc: isoUtc(row.started_ms),
    last_activity_utc: isoUtc(row.last_activity_ms),
    ended_utc: row.ended_ms === null ? null : isoUtc(row.ended_ms),
  }
}

/** A handoff as the API shows it. */
export function presentHandoff(row: HandoffView): Handoff {
  return {
    id: row.id,
    session_id: row.session_id,
    visitor: visitorRef(row),
    handoff_reason: row.reason as Handoff['handoff_reason'],
    summary: row.summary,
    created_utc: isoUtc(row.created_ms),
  }
}

/** Feedback as the API shows it. */
export function presentFeedback(row: FeedbackView): Feedback {
  return {
    id: row.id,
    session_id: row.session_id,
    visitor: visitorRef(row),
    rating: row.rating,
    comment: row.comment,
    created_utc: isoUtc(row.created_ms),
  }
}
