/**
 * Post-chat feedback: once per closed session. The row and the `feedback` webhook are written in
 * one transaction (outbox); the worker is woken and agents are told after the commit.
 */
import { isoUtc } from '../clock'
import { UniqueViolationError } from '../db/errors'
import type { ChatSessionRow, FeedbackView } from '../db/rows'
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
export async function submitFeedback(ctx: ChatContext, session: ChatSessionRow, rating: number, comment: string | null): Promise<Feedback> {
  const { store, clock } = ctx
  let view: FeedbackView
  try {
    view = await store.transaction(async (tx) => {
      const current = (await tx.chat.sessionBySeq(session.seq)) as ChatSessionRow
      if (current.status !== 'closed') {
        throw new ConflictError(`Chat session ${session.id} is still open; feedback is accepted once the chat is closed.`, 'session_id')
      }
      if (await tx.chat.feedbackBySession(session.seq)) throw alreadyRated(session.id)
      await tx.chat.insertFeedback(session.site_id, session.seq, rating, comment, clock.now())
      const v = (await tx.chat.feedbackBySession(session.seq)) as FeedbackView
      await enqueueEvent(tx, clock, { siteId: session.site_id, type: 'feedback', payload: feedbackPayload(v) })
      return v
    })
  } catch (err) {
    // Two ratings at once (PostgreSQL: both saw none): the session's unique feedback row takes one.
    if (err instanceof UniqueViolationError) throw alreadyRated(session.id)
    throw err
  }
  ctx.wakeWebhooks()
  const feedback = presentFeedback(view)
  ctx.hub.publish([siteTopic(session.site_id)], { type: 'feedback', feedback })
  return feedback
}
