/** Chat sessions for agents: list, read, close. */

import type { ChatContext } from '../../chat/context'
import { decodeIdCursor, pageOf } from '../../chat/paging'
import { presentSession } from '../../chat/present'
import { closeSession, siteSession } from '../../chat/sessions'
import type { SessionStatus } from '../../db/rows'
import { BadRequestError } from '../../errors'
import type { Session } from './model'

/** One page of the site's sessions, newest first. */
export async function listSessions(ctx: ChatContext, siteId: number, q: { status?: SessionStatus; limit?: number; cursor?: string }) {
  const limit = q.limit ?? 20
  const before = q.cursor ? decodeIdCursor(q.cursor) : null
  const rows = await ctx.store.chat.listSessions(siteId, q.status ?? null, before, limit + 1)
  return pageOf(rows, limit, presentSession, (r) => r.seq)
}

/** One session of the site. */
export async function getSession(ctx: ChatContext, siteId: number, id: string): Promise<Session> {
  return presentSession(await siteSession(ctx, siteId, id))
}

/** Runs an action on a session (`close`). */
export async function sessionAction(ctx: ChatContext, siteId: number, id: string, action: string | undefined): Promise<Session> {
  if (action !== 'close') {
    throw new BadRequestError(action ? `Unknown action "${action}"; sessions support action=close.` : 'action is required: use action=close.', 'action')
  }
  const session = await siteSession(ctx, siteId, id)
  return closeSession(ctx, session, 'agent')
}
