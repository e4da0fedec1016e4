/** `transcripts`: the full chat of one session, AI and human messages included. */
import { Elysia } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { SessionIdParams } from '../sessions/model'
import { Transcript, TranscriptQuery } from './model'
import { getTranscript } from './service'

const detail = { tags: ['chat'], security: [{ bearer: [] }] }

/** The transcripts controller. */
export function transcriptsModule({ auth, chat }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/transcripts' })
    .use(auth)
    .get('/', async ({ principal, query, set }) => ok(set, await getTranscript(chat, principal.siteId, query.sessionId ?? query.session_id)), {
      query: TranscriptQuery,
      response: responses({ 200: Envelope(Transcript) }, [400, 403, 404]),
      detail: {
        ...detail,
        summary: 'Get a transcript',
        description: '`sessionId=cs_...` (alias `session_id`, or `/v1/transcripts/{id}`). 404 for an unknown session or one of another site.',
      },
    })
    .get('/:id', async ({ principal, params, set }) => ok(set, await getTranscript(chat, principal.siteId, params.id, 'id')), {
      query: TranscriptQuery,
      params: SessionIdParams,
      response: responses({ 200: Envelope(Transcript) }, [400, 403, 404]),
      detail: { ...detail, summary: 'Get a transcript by session id' },
    })
}
