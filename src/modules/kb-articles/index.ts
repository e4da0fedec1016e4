/** `kb_articles`: the knowledge base the bot answers from. */
import { Elysia, t } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, okPage, PageEnvelope, responses } from '../../http/envelope'
import { hidden, missingId } from '../../http/missing-id'
import { IdParams, TokenQuery } from '../../http/params'
import { CreateKbArticleBody, DeletedKbArticle, KbArticle, ListKbArticlesQuery, UpdateKbArticleBody } from './model'
import { createKbArticle, deleteKbArticle, getKbArticle, listKbArticles, updateKbArticle } from './service'

const query = t.Object(TokenQuery)
const detail = { tags: ['chat'], security: [{ bearer: [] }] }

/** The kb_articles controller. */
export function kbArticlesModule({ auth, store, clock }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/kb_articles' })
    .use(auth)
    .get('/', async ({ principal, query, set }) => okPage(set, await listKbArticles(store, principal.siteId, query)), {
      query: ListKbArticlesQuery,
      response: responses({ 200: PageEnvelope(KbArticle) }, [400, 403]),
      detail: { ...detail, summary: 'List knowledge-base articles', description: 'Oldest first, cursor paginated; `q=` searches (BM25, best first).' },
    })
    .post(
      '/',
      async ({ principal, body, set }) => {
        set.status = 201
        return ok(set, await createKbArticle(store, clock, principal.siteId, body))
      },
      {
        query,
        body: CreateKbArticleBody,
        response: responses({ 201: Envelope(KbArticle) }, [400, 403, 413]),
        detail: {
          ...detail,
          summary: 'Create a knowledge-base article',
          description: 'Needs write scope. `{ title, body }`; paragraphs (blank-line separated) become the passages the bot replies with.',
        },
      },
    )
    .get('/:id', async ({ principal, params, set }) => ok(set, await getKbArticle(store, principal.siteId, params.id)), {
      query,
      params: IdParams,
      response: responses({ 200: Envelope(KbArticle) }, [400, 403, 404]),
      detail: { ...detail, summary: 'Get a knowledge-base article' },
    })
    .patch('/:id', async ({ principal, params, body, set }) => ok(set, await updateKbArticle(store, clock, principal.siteId, params.id, body)), {
      query,
      params: IdParams,
      body: UpdateKbArticleBody,
      response: responses({ 200: Envelope(KbArticle) }, [400, 403, 404, 413]),
      detail: { ...detail, summary: 'Update a knowledge-base article', description: 'Needs write scope.' },
    })
    .delete('/:id', async ({ principal, params, set }) => ok(set, await deleteKbArticle(store, principal.siteId, params.id)), {
      query,
      params: IdParams,
      response: responses({ 200: Envelope(DeletedKbArticle) }, [400, 403, 404]),
      detail: { ...detail, summary: 'Delete a knowledge-base article', description: 'Needs write scope.' },
    })
    .patch('/', () => missingId('kb_articles'), hidden)
    .delete('/', () => missingId('kb_articles'), hidden)
}
