/**
 * Post-chat feedback: once per closed session. The row and the `feedback` webhook are written in
 * one transaction (outbox); the worker is woken and agents are told after the commit.
 */
import { isoUtc } from '../clock'
import type { ChatSessionRow, FeedbackView } from '../db/chat'
import { ConflictError } from '../errors'
import type { Feedback } from '../modules/feedback/model'
import { enqueueEvent } from '../webhooks/enqueue'
import type { ChatContext } from './context'
import { presentFeedback } from './present'
import { siteTopic } from './realtime'

/** The feedback webhook's fields (the product page's, plus the visitor's key). */
export function feedbackPayload(view: FeedbackView): Record<string, unknown> {
  return {
    session_id: view.session_id,
    visitor: { key: view.visitor_key, name: view.visitor_name, email: view.visitor_email },
    rating: view.rating,
    comment: view.comment,
    created_utc: isoUtc(view.created_ms),
  }
}

function alreadyRated(id: string): ConflictError {
  return new ConflictError(`Chat session ${id} has already been rated; feedback is accepted once per session.`, 'session_id')
}

/** Records the visitor's rating of a closed session; 409 when it is still open or already rated. */
export function submitFeedback(ctx: ChatContext, session: ChatSessionRow, rating: number, comment: string | null): Feedback {
  const { store, clock } = ctx
  const view = store.transaction(() => {
    const current = store.chat.sessionBySeq(session.seq) as ChatSessionRow
    if (current.status !== 'closed') {
      throw new ConflictError(`Chat session ${session.id} is still open; feedback is accepted once the chat is closed.`, 'session_id')
    }
    if (store.chat.feedbackBySession(session.seq)) throw alreadyRated(session.id)
    store.chat.insertFeedback(session.site_id, session.seq, rating, comment, clock.now())
    const v = store.chat.feedbackBySession(session.seq) as FeedbackView
    enqueueEvent(store, clock, { siteId: session.site_id, type: 'feedback', payload: feedbackPayload(v) })
    return v
  })
  ctx.wakeWebhooks()
  const feedback = presentFeedback(view)
  ctx.hub.publish([siteTopic(session.site_id)], { type: 'feedback', feedback })
  return feedback
}
