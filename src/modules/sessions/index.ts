/** `sessions`: agents list chat sessions (filter by status), read one, and close one. */
import { Elysia } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, okPage, PageEnvelope, responses } from '../../http/envelope'
import { hidden, missingId } from '../../http/missing-id'
import { ListSessionsQuery, Session, SessionActionQuery, SessionIdParams } from './model'
import { getSession, listSessions, sessionAction } from './service'

const detail = { tags: ['chat'], security: [{ bearer: [] }] }

/** The sessions controller. */
export function sessionsModule({ auth, chat }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/sessions' })
    .use(auth)
    .get('/', async ({ principal, query, set }) => okPage(set, await listSessions(chat, principal.siteId, query)), {
      query: ListSessionsQuery,
      response: responses({ 200: PageEnvelope(Session) }, [400, 403]),
      detail: {
        ...detail,
        summary: 'List chat sessions',
        description: 'Newest first, cursor paginated; `status=bot|waiting_human|human|closed` filters. An agent inbox lists `waiting_human` and `human`.',
      },
    })
    .get('/:id', async ({ principal, params, set }) => ok(set, await getSession(chat, principal.siteId, params.id)), {
      query: SessionActionQuery,
      params: SessionIdParams,
      response: responses({ 200: Envelope(Session) }, [400, 403, 404]),
      detail: { ...detail, summary: 'Get a chat session' },
    })
    .post('/:id', async ({ principal, params, query, set }) => ok(set, await sessionAction(chat, principal.siteId, params.id, query.action)), {
      query: SessionActionQuery,
      params: SessionIdParams,
      response: responses({ 200: Envelope(Session) }, [400, 403, 404, 409]),
      detail: {
        ...detail,
        operationId: 'closeSession',
        summary: 'Close a chat session (action=close)',
        description: 'Needs write scope. The visitor is told, and may then rate the chat. 409 when it is closed already.',
      },
    })
    .post('/', () => missingId('sessions'), hidden)
}
