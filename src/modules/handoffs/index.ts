/** `handoffs`: the AI-to-human handoff log. */
import { Elysia } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { okPage, PageEnvelope, responses } from '../../http/envelope'
import { Handoff, ListHandoffsQuery } from './model'
import { listHandoffs } from './service'

/** The handoffs controller. */
export function handoffsModule({ auth, store }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/handoffs' })
    .use(auth)
    .get('/', async ({ principal, query, set }) => okPage(set, await listHandoffs(store, principal.siteId, query)), {
      query: ListHandoffsQuery,
      response: responses({ 200: PageEnvelope(Handoff) }, [400, 403]),
      detail: {
        tags: ['chat'],
        security: [{ bearer: [] }],
        summary: 'List handoffs',
        description: 'AI-to-human handoffs, newest first: `since` (ISO-8601), `limit` (1-100), `cursor`. Each has the reason and the AI summary.',
      },
    })
}
