/** `conversation_starters`: prompts the chat widget offers a new visitor. */
import { Elysia, t } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { hidden, missingId } from '../../http/missing-id'
import { IdParams, TokenQuery } from '../../http/params'
import { CreateStarterBody, DeletedStarter, Starter, StarterListQuery, UpdateStarterBody } from './model'
import { createStarter, deleteStarter, getStarter, listStarters, updateStarter } from './service'

const query = t.Object(TokenQuery)
const detail = { tags: ['conversation_starters'], security: [{ bearer: [] }] }

/** The conversation starters controller. */
export function conversationStartersModule({ auth, store, clock }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/conversation_starters' })
    .use(auth)
    .get('/', async ({ principal, query, set }) => ok(set, await listStarters(store, principal.siteId, query.all === true)), {
      query: StarterListQuery,
      response: responses({ 200: Envelope(t.Array(Starter)) }, [400, 403]),
      detail: { ...detail, summary: 'List conversation starters', description: 'Enabled starters ordered by position; `all=true` includes disabled ones.' },
    })
    .post(
      '/',
      async ({ principal, body, set }) => {
        set.status = 201
        return ok(set, await createStarter(store, clock, principal.siteId, body))
      },
      {
        query,
        body: CreateStarterBody,
        response: responses({ 201: Envelope(Starter) }, [400, 403, 413]),
        detail: { ...detail, summary: 'Create a conversation starter', description: 'Needs write scope. Without `position` it goes last.' },
      },
    )
    .get('/:id', async ({ principal, params, set }) => ok(set, await getStarter(store, principal.siteId, params.id)), {
      query,
      params: IdParams,
      response: responses({ 200: Envelope(Starter) }, [400, 404]),
      detail: { ...detail, summary: 'Get a conversation starter' },
    })
    .patch('/:id', async ({ principal, params, body, set }) => ok(set, await updateStarter(store, principal.siteId, params.id, body)), {
      query,
      params: IdParams,
      body: UpdateStarterBody,
      response: responses({ 200: Envelope(Starter) }, [400, 403, 404, 413]),
      detail: { ...detail, summary: 'Update a conversation starter', description: 'Needs write scope.' },
    })
    .delete('/:id', async ({ principal, params, set }) => ok(set, await deleteStarter(store, principal.siteId, params.id)), {
      query,
      params: IdParams,
      response: responses({ 200: Envelope(DeletedStarter) }, [400, 403, 404]),
      detail: { ...detail, summary: 'Delete a conversation starter', description: 'Needs write scope.' },
    })
    .patch('/', () => missingId('conversation_starters'), hidden)
    .delete('/', () => missingId('conversation_starters'), hidden)
}
