/** Transcript schemas: a whole chat with its messages. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'
import { TokenQuery } from '../../http/params'
import { Message } from '../messages/model'
import { HandoffReason, SessionStatus, VisitorRef } from '../sessions/model'

export const Transcript = t.Object({
  session_id: t.String(),
  visitor: VisitorRef,
  status: SessionStatus,
  started_utc: t.String(),
  ended_utc: t.Union([t.String(), t.Null()]),
  handoff_reason: t.Union([HandoffReason, t.Null()]),
  summary: t.Union([t.String(), t.Null()], { description: 'The handoff summary, when the chat was handed off.' }),
  rating: t.Union([ResponseInteger(), t.Null()], { description: "The visitor's rating, once given." }),
  messages: t.Array(Message),
})
export type Transcript = Static<typeof Transcript>

export const TranscriptQuery = t.Object({
  ...TokenQuery,
  sessionId: t.Optional(t.String({ maxLength: 64, description: 'The session (cs_...).' })),
  session_id: t.Optional(t.String({ maxLength: 64, description: 'Alias of sessionId.' })),
})
