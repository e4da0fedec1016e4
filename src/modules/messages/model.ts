/** Chat message schemas. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'
import { TokenQuery } from '../../http/params'
import { RequestInteger } from '../../http/request-integer'

/** Longest message a visitor or an agent may send. */
export const MAX_MESSAGE_CHARS = 4000

export const MessageText = t.String({ minLength: 1, maxLength: MAX_MESSAGE_CHARS, error: `text must be 1-${MAX_MESSAGE_CHARS} characters` })

export const Message = t.Object({
  id: ResponseInteger({ description: 'Increasing within a session: pass the last one seen as `after`.' }),
  session_id: t.String(),
  role: t.Union([t.Literal('visitor'), t.Literal('ai'), t.Literal('agent'), t.Literal('system')]),
  text: t.String(),
  author: t.Union([t.String(), t.Null()], { description: "For agent messages, the agent (the API token's name)." }),
  tokens: t.Optional(ResponseInteger({ description: 'Bot tokens this message cost (AI replies and bot handoff notices).' })),
  created_utc: t.String(),
})
export type Message = Static<typeof Message>

export const PostMessageBody = t.Object({
  session_id: t.String({ minLength: 1, maxLength: 64, error: 'session_id must be a session id (cs_...)' }),
  text: MessageText,
})

export const ListMessagesQuery = t.Object({
  ...TokenQuery,
  session_id: t.Optional(t.String({ maxLength: 64 })),
  sessionId: t.Optional(t.String({ maxLength: 64, description: 'Alias of session_id.' })),
  after: t.Optional(RequestInteger({ minimum: 0, error: 'after must be a message id (an integer >= 0)' })),
  limit: t.Optional(RequestInteger({ minimum: 1, maximum: 200, default: 100, error: 'limit must be an integer from 1 to 200' })),
})
