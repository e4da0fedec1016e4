/** `messages`: agents reply to a chat (the visitor gets it over the WebSocket at once) and read one. */
import { Elysia, t } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { TokenQuery } from '../../http/params'
import { ListMessagesQuery, Message, PostMessageBody } from './model'
import { agentReply, listMessages } from './service'

const detail = { tags: ['chat'], security: [{ bearer: [] }] }

const MessagePage = t.Object({
  ok: t.Literal(true),
  data: t.Array(Message),
  has_more: t.Boolean(),
  request_id: t.String(),
})

/** The messages controller. */
export function messagesModule({ auth, chat }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/messages' })
    .use(auth)
    .get(
      '/',
      async ({ principal, query, set }) => {
        const page = await listMessages(chat, principal.siteId, query)
        return { ...ok(set, page.messages), has_more: page.has_more }
      },
      {
        query: ListMessagesQuery,
        response: responses({ 200: MessagePage }, [400, 403, 404]),
        detail: {
          ...detail,
          summary: "List a session's messages",
          description:
            '`session_id` (alias `sessionId`) required; oldest first; `after=<message id>` for the ones after it (`has_more` when `limit` cut the list).',
        },
      },
    )
    .post(
      '/',
      async ({ principal, body, set }) => {
        set.status = 201
        return ok(set, await agentReply(chat, principal.siteId, body, principal.tokenName))
      },
      {
        query: t.Object(TokenQuery),
        body: PostMessageBody,
        response: responses({ 201: Envelope(Message) }, [400, 403, 404, 409, 413]),
        detail: {
          ...detail,
          summary: 'Reply to a chat as an agent',
          description:
            'Needs write scope. `{ session_id, text }` (1-4000 characters). The session becomes `human` and the bot stops answering; the reply reaches the visitor over the WebSocket at once. 404 for an unknown session, 409 for a closed one.',
        },
      },
    )
}
