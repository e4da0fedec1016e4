/** `feedback`: visitors' post-chat ratings and comments. */
import { Elysia } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { okPage, PageEnvelope, responses } from '../../http/envelope'
import { Feedback, ListFeedbackQuery } from './model'
import { listFeedback } from './service'

/** The feedback controller. */
export function feedbackModule({ auth, store }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/feedback' })
    .use(auth)
    .get('/', async ({ principal, query, set }) => okPage(set, await listFeedback(store, principal.siteId, query)), {
      query: ListFeedbackQuery,
      response: responses({ 200: PageEnvelope(Feedback) }, [400, 403]),
      detail: {
        tags: ['chat'],
        security: [{ bearer: [] }],
        summary: 'List feedback',
        description: 'Post-chat ratings (1-5) with comments, newest first: `since` (ISO-8601), `rating`, `limit` (1-100), `cursor`.',
      },
    })
}
