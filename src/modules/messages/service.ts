/** Chat messages for agents: reply, and read a session's messages. */
import type { ChatContext } from '../../chat/context'
import { postAgentMessage, sessionMessages, siteSession } from '../../chat/sessions'
import { BadRequestError } from '../../errors'
import type { Message } from './model'

/** Posts an agent's reply to a session of the site. */
export async function agentReply(ctx: ChatContext, siteId: number, input: { session_id: string; text: string }, author: string): Promise<Message> {
  const text = input.text.trim()
  if (!text) throw new BadRequestError('text must not be blank', 'text')
  return postAgentMessage(ctx, siteId, input.session_id, text, author)
}

/** A session's messages after `after`, oldest first. */
export async function listMessages(ctx: ChatContext, siteId: number, q: { session_id?: string; sessionId?: string; after?: number; limit?: number }) {
  const id = q.session_id ?? q.sessionId
  if (!id) throw new BadRequestError('session_id is required', 'session_id')
  const session = await siteSession(ctx, siteId, id, 'session_id')
  const page = await sessionMessages(ctx, session, q.after ?? 0, q.limit ?? 100)
  return page
}
