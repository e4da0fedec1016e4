/**
 * The chat widget's public endpoints under /v1/widget. Authenticated by the site's publishable key
 * and the visitor's anonymous id or key (see guard.ts), never by API tokens; rate limited per
 * visitor and per IP. `widget` is not an API resource (the route table knows).
 */
import { Elysia } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { IDENTITY_TOKEN_HEADER } from '../site-settings/model'
import { authenticateWidget, idempotencyScopeOf } from './guard'
import {
  OpenedSession,
  OpenSessionBody,
  VisitorMessageResult,
  WidgetCloseBody,
  WidgetFeedback,
  WidgetFeedbackBody,
  WidgetHandoffBody,
  WidgetMessageBody,
  WidgetMessages,
  WidgetMessagesQuery,
  WidgetQuery,
  WidgetSession,
  WidgetSessionParams,
} from './model'
import { callerSession, openWidgetSession, visitorClose, visitorFeedback, visitorHandoff, visitorMessage, visitorMessages, widgetSessionOf } from './service'

const detail = { tags: ['widget'], security: [{ siteKey: [] }] }

/** The widget controller. */
export function widgetModule(deps: ModuleDeps) {
  const { chat, config } = deps
  const base = (request: Request) => config.publicUrl || new URL(request.url).origin
  return (
    new Elysia({ prefix: '/v1/widget' })
      // Local: applies to the widget routes only, before body validation (401 before 400).
      .derive(async ({ request, body, query, set }) => {
        const caller = await authenticateWidget(deps, request, { body, query }, set.headers)
        // Keys are the visitor's own; an identity token sent as a header is part of the request it names.
        const claiming = deps.idempotency.check(
          request,
          set.headers,
          caller.site.id,
          () => idempotencyScopeOf(caller),
          () => request.headers.get(IDENTITY_TOKEN_HEADER) ?? '',
        )
        if (claiming !== undefined) await claiming
        return { caller }
      })
      .post(
        '/sessions',
        async ({ caller, body, request, set }) => {
          const token = body.identity_token ?? request.headers.get(IDENTITY_TOKEN_HEADER)
          const opened = await openWidgetSession(chat, caller, token, base(request))
          set.status = 201
          return ok(set, opened)
        },
        {
          query: WidgetQuery,
          body: OpenSessionBody,
          response: responses({ 201: Envelope(OpenedSession) }, [400, 401, 413]),
          detail: {
            ...detail,
            summary: 'Open a chat session',
            description:
              '`{ site_key, anon_id?, visitor_key?, identity_token? }`: one of anon_id (the anonymous visitor) or visitor_key (identified; needs identity_token when the site requires identity verification). The session starts with the bot. Answers the starters and the WebSocket URL.',
          },
        },
      )
      .get('/sessions/:id', async ({ caller, params, set }) => ok(set, await widgetSessionOf(chat, await callerSession(chat, caller, params.id))), {
        query: WidgetQuery,
        params: WidgetSessionParams,
        response: responses({ 200: Envelope(WidgetSession) }, [400, 404]),
        detail: { ...detail, summary: 'Get my chat session' },
      })
      .get(
        '/sessions/:id/messages',
        async ({ caller, params, query, set }) => ok(set, await visitorMessages(chat, caller, params.id, query.after ?? 0, query.limit ?? 100)),
        {
          query: WidgetMessagesQuery,
          params: WidgetSessionParams,
          response: responses({ 200: Envelope(WidgetMessages) }, [400, 404]),
          detail: { ...detail, summary: 'Read my chat', description: 'Messages after `after` (a message id), oldest first; the WebSocket pushes new ones.' },
        },
      )
      .post(
        '/sessions/:id/messages',
        async ({ caller, params, body, set }) => {
          const result = await visitorMessage(chat, caller, params.id, body.text)
          set.status = 201
          return ok(set, result)
        },
        {
          query: WidgetQuery,
          params: WidgetSessionParams,
          body: WidgetMessageBody,
          response: responses({ 201: Envelope(VisitorMessageResult) }, [400, 404, 409, 413]),
          detail: {
            ...detail,
            summary: 'Send a message',
            description:
              '`{ text }` (1-4000 characters). While the bot has the chat the answer is in `reply` (or the handoff notice); once a human has it, the message waits for them. 409 when the chat is closed.',
          },
        },
      )
      .post('/sessions/:id/handoff', async ({ caller, params, body, set }) => ok(set, await visitorHandoff(chat, caller, params.id, body.reason)), {
        query: WidgetQuery,
        params: WidgetSessionParams,
        body: WidgetHandoffBody,
        response: responses({ 200: Envelope(WidgetSession) }, [400, 404, 409, 413]),
        detail: {
          ...detail,
          operationId: 'requestWidgetHandoff',
          summary: 'Ask for a human',
          description: 'Hands the chat off (visitor_requested). Idempotent while a human has it; 409 when closed.',
        },
      })
      .post('/sessions/:id/close', async ({ caller, params, set }) => ok(set, await visitorClose(chat, caller, params.id)), {
        query: WidgetQuery,
        params: WidgetSessionParams,
        body: WidgetCloseBody,
        response: responses({ 200: Envelope(WidgetSession) }, [400, 404, 409, 413]),
        detail: { ...detail, operationId: 'closeWidgetSession', summary: 'Close my chat', description: '409 when it is closed already.' },
      })
      .post(
        '/sessions/:id/feedback',
        async ({ caller, params, body, set }) => {
          set.status = 201
          return ok(set, await visitorFeedback(chat, caller, params.id, body.rating, body.comment))
        },
        {
          query: WidgetQuery,
          params: WidgetSessionParams,
          body: WidgetFeedbackBody,
          response: responses({ 201: Envelope(WidgetFeedback) }, [400, 404, 409, 413]),
          detail: {
            ...detail,
            summary: 'Rate my chat',
            description: '`{ rating: 1..5, comment? }` once the chat is closed (409 while open), once per session (409 for a second one).',
          },
        },
      )
  )
}
