/** `segments`: rule-defined groups of visitors, kept up to date on identify, track and rule change. */
import { Elysia, t } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { hidden, missingId } from '../../http/missing-id'
import { IdParams, TokenQuery } from '../../http/params'
import { CreateSegmentBody, DeletedSegment, Segment, UpdateSegmentBody } from './model'
import { createSegment, deleteSegment, getSegment, listSegments, updateSegment } from './service'

const query = t.Object(TokenQuery)
const detail = { tags: ['segments'], security: [{ bearer: [] }] }

/** The segments controller. */
export function segmentsModule({ auth, store, clock }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/segments' })
    .use(auth)
    .get('/', async ({ principal, set }) => ok(set, await listSegments(store, principal.siteId)), {
      query,
      response: responses({ 200: Envelope(t.Array(Segment)) }, [403]),
      detail: { ...detail, summary: 'List segments', description: 'Segments of the calling site with their member counts, oldest first.' },
    })
    .post(
      '/',
      async ({ principal, body, set }) => {
        set.status = 201
        return ok(set, await createSegment(store, clock, principal.siteId, body))
      },
      {
        query,
        body: CreateSegmentBody,
        response: responses({ 201: Envelope(Segment) }, [400, 403, 409, 413]),
        detail: {
          ...detail,
          summary: 'Create a segment',
          description:
            'Needs write scope. Every visitor of the site is evaluated before the response. An invalid rule answers 400 with `param` set to the path of the problem, like `rule.all.1.op`.',
        },
      },
    )
    .get('/:id', async ({ principal, params, set }) => ok(set, await getSegment(store, principal.siteId, params.id)), {
      query,
      params: IdParams,
      response: responses({ 200: Envelope(Segment) }, [400, 404]),
      detail: { ...detail, summary: 'Get a segment' },
    })
    .patch('/:id', async ({ principal, params, body, set }) => ok(set, await updateSegment(store, clock, principal.siteId, params.id, body)), {
      query,
      params: IdParams,
      body: UpdateSegmentBody,
      response: responses({ 200: Envelope(Segment) }, [400, 403, 404, 409, 413]),
      detail: { ...detail, summary: 'Update a segment', description: 'Needs write scope. A rule change re-evaluates every visitor of the site.' },
    })
    .delete('/:id', async ({ principal, params, set }) => ok(set, await deleteSegment(store, principal.siteId, params.id)), {
      query,
      params: IdParams,
      response: responses({ 200: Envelope(DeletedSegment) }, [400, 403, 404]),
      detail: { ...detail, summary: 'Delete a segment', description: 'Needs write scope. Memberships go with it.' },
    })
    .patch('/', () => missingId('segments'), hidden)
    .delete('/', () => missingId('segments'), hidden)
}
