/** Chat session schemas (also the visitor reference every chat resource shows). */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'
import { PageQuery, TokenQuery } from '../../http/params'

const NullableString = t.Union([t.String(), t.Null()])

export const SessionStatus = t.Union([t.Literal('bot'), t.Literal('waiting_human'), t.Literal('human'), t.Literal('closed')], {
  description: 'bot: the AI answers; waiting_human: handed off, no agent yet; human: an agent replied; closed.',
})
export type SessionStatus = Static<typeof SessionStatus>

export const HandoffReason = t.Union([t.Literal('visitor_requested'), t.Literal('low_confidence'), t.Literal('bot_error'), t.Literal('max_turns')])

/** The visitor of a chat: their key (`anon:<id>` for anonymous visitors) and profile, when known. */
export const VisitorRef = t.Object({
  key: t.Union([t.String(), t.Null()], { description: 'Visitor key; anonymous visitors are `anon:<anonymous id>`; null once the visitor was erased.' }),
  name: NullableString,
  email: NullableString,
})
export type VisitorRef = Static<typeof VisitorRef>

export const Session = t.Object({
  id: t.String({ description: 'Session id, `cs_...`.' }),
  status: SessionStatus,
  visitor: VisitorRef,
  handoff_reason: t.Union([HandoffReason, t.Null()]),
  closed_by: t.Union([t.Literal('agent'), t.Literal('visitor'), t.Literal('inactivity'), t.Null()]),
  bot_replies: ResponseInteger({ description: 'AI replies so far (compared with the max_bot_replies setting).' }),
  started_utc: t.String(),
  last_activity_utc: t.String(),
  ended_utc: NullableString,
})
export type Session = Static<typeof Session>

export const SessionIdParams = t.Object({ id: t.String({ minLength: 1, maxLength: 64, error: 'id must be a session id (cs_...)' }) })

export const ListSessionsQuery = t.Object({
  ...TokenQuery,
  ...PageQuery,
  status: t.Optional(
    t.Union([t.Literal('bot'), t.Literal('waiting_human'), t.Literal('human'), t.Literal('closed')], {
      error: 'status must be bot, waiting_human, human or closed',
    }),
  ),
})

export const SessionActionQuery = t.Object({
  ...TokenQuery,
  action: t.Optional(t.String({ description: 'close' })),
})
