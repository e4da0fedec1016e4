/**
 * Schemas of the chat widget's public endpoints. Every call names the site by its publishable key
 * (`site_key` in the body or query, or the X-MLC-Site-Key header) and the visitor by the
 * anonymous id or visitor key the session was opened with.
 */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'
import { RequestInteger } from '../../http/request-integer'
import { Rating } from '../feedback/model'
import { Message, MessageText } from '../messages/model'
import { HandoffReason, SessionStatus } from '../sessions/model'

/** The header that may carry the publishable key instead of `site_key`. */
export const SITE_KEY_HEADER = 'x-mlc-site-key'

const AnonId = t.String({ minLength: 1, maxLength: 100, pattern: '^\\S+$', error: 'anon_id must be 1-100 characters without spaces' })
const VisitorKey = t.String({ minLength: 1, maxLength: 128, error: 'visitor_key must be 1-128 characters' })
const SiteKey = t.String({ maxLength: 200, description: 'The site publishable key (pk_...), or send X-MLC-Site-Key.' })

/** The caller's credentials, accepted in every widget body. */
export const WidgetCredentials = {
  site_key: t.Optional(SiteKey),
  anon_id: t.Optional(AnonId),
  anonymous_id: t.Optional(
    t.String({
      minLength: 1,
      maxLength: 100,
      pattern: '^\\S+$',
      error: 'anonymous_id must be 1-100 characters without spaces',
      description: 'Alias of anon_id (the SDK name).',
    }),
  ),
  visitor_key: t.Optional(VisitorKey),
}

export const OpenSessionBody = t.Object({
  ...WidgetCredentials,
  identity_token: t.Optional(t.String({ maxLength: 4096, description: 'HS256 JWT for visitor_key, required when the site requires identity verification.' })),
})

export const WidgetMessageBody = t.Object({ ...WidgetCredentials, text: MessageText })
export const WidgetHandoffBody = t.Object({
  ...WidgetCredentials,
  reason: t.Optional(
    t.String({ maxLength: 1000, error: 'reason must be at most 1000 characters', description: "The visitor's note for the agent (stored as their message)." }),
  ),
})
export const WidgetCloseBody = t.Object({ ...WidgetCredentials })
export const WidgetFeedbackBody = t.Object({
  ...WidgetCredentials,
  rating: Rating,
  comment: t.Optional(t.Union([t.String({ maxLength: 2000, error: 'comment must be at most 2000 characters' }), t.Null()])),
})

export const WidgetQuery = t.Object({
  site_key: t.Optional(SiteKey),
  anon_id: t.Optional(t.String({ maxLength: 100 })),
  anonymous_id: t.Optional(t.String({ maxLength: 100 })),
  visitor_key: t.Optional(t.String({ maxLength: 128 })),
})

export const WidgetMessagesQuery = t.Object({
  ...WidgetQuery.properties,
  after: t.Optional(RequestInteger({ minimum: 0, error: 'after must be a message id (an integer >= 0)' })),
  limit: t.Optional(RequestInteger({ minimum: 1, maximum: 200, default: 100, error: 'limit must be an integer from 1 to 200' })),
})

export const WidgetSessionParams = t.Object({ id: t.String({ minLength: 1, maxLength: 64, error: 'id must be a session id (cs_...)' }) })

export const OpenedSession = t.Object({
  session_id: t.String(),
  status: SessionStatus,
  starters: t.Array(t.Object({ id: ResponseInteger(), prompt: t.String() }), { description: "The site's enabled conversation starters, in order." }),
  ws_url: t.String({ description: "WebSocket URL pushing this session's messages and status changes (credentials included)." }),
})
export type OpenedSession = Static<typeof OpenedSession>

export const WidgetSession = t.Object({
  session_id: t.String(),
  status: SessionStatus,
  handoff_reason: t.Union([HandoffReason, t.Null()]),
  started_utc: t.String(),
  ended_utc: t.Union([t.String(), t.Null()]),
  rated: t.Boolean({ description: 'Whether the visitor has rated this chat.' }),
})
export type WidgetSession = Static<typeof WidgetSession>

export const VisitorMessageResult = t.Object({
  message: Message,
  reply: t.Union([Message, t.Null()], { description: "The bot's answer or the handoff notice; null while a human has the chat." }),
  status: SessionStatus,
})

export const WidgetMessages = t.Object({
  session_id: t.String(),
  status: SessionStatus,
  messages: t.Array(Message),
  has_more: t.Boolean(),
})

export const WidgetFeedback = t.Object({
  session_id: t.String(),
  rating: ResponseInteger(),
  comment: t.Union([t.String(), t.Null()]),
  created_utc: t.String(),
})
