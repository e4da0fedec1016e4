/** `tags`: list, create, update and delete a site's conversation tags. */
import { Elysia, t } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { hidden, missingId } from '../../http/missing-id'
import { IdParams, TokenQuery } from '../../http/params'
import { CreateTagBody, DeletedTag, Tag, UpdateTagBody } from './model'
import { createTag, deleteTag, getTag, listTags, updateTag } from './service'

const query = t.Object(TokenQuery)
const detail = { tags: ['tags'], security: [{ bearer: [] }] }

/** The tags controller. */
export function tagsModule({ auth, store, clock }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/tags' })
    .use(auth)
    .get('/', async ({ principal, set }) => ok(set, await listTags(store, principal.siteId)), {
      query,
      response: responses({ 200: Envelope(t.Array(Tag)) }, [403]),
      detail: { ...detail, summary: 'List tags', description: 'Conversation tags of the calling site, oldest first.' },
    })
    .post(
      '/',
      async ({ principal, body, set }) => {
        set.status = 201
        return ok(set, await createTag(store, clock, principal.siteId, body))
      },
      {
        query,
        body: CreateTagBody,
        response: responses({ 201: Envelope(Tag) }, [400, 403, 409, 413]),
        detail: { ...detail, summary: 'Create a tag', description: 'Needs write scope. Names are unique per site (409 otherwise).' },
      },
    )
    .get('/:id', async ({ principal, params, set }) => ok(set, await getTag(store, principal.siteId, params.id)), {
      query,
      params: IdParams,
      response: responses({ 200: Envelope(Tag) }, [400, 404]),
      detail: { ...detail, summary: 'Get a tag' },
    })
    .patch('/:id', async ({ principal, params, body, set }) => ok(set, await updateTag(store, principal.siteId, params.id, body)), {
      query,
      params: IdParams,
      body: UpdateTagBody,
      response: responses({ 200: Envelope(Tag) }, [400, 403, 404, 409, 413]),
      detail: { ...detail, summary: 'Update a tag', description: 'Needs write scope.' },
    })
    .delete('/:id', async ({ principal, params, set }) => ok(set, await deleteTag(store, principal.siteId, params.id)), {
      query,
      params: IdParams,
      response: responses({ 200: Envelope(DeletedTag) }, [400, 403, 404]),
      detail: { ...detail, summary: 'Delete a tag', description: 'Needs write scope.' },
    })
    .patch('/', () => missingId('tags'), hidden)
    .delete('/', () => missingId('tags'), hidden)
}
