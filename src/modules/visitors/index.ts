/** `visitors`: upsert by stable key (API tokens and publishable keys), read, list and erase. */
import { Elysia, t } from 'elysia'
import { BadRequestError } from '../../errors'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, okPage, PageEnvelope, responses } from '../../http/envelope'
import { TokenQuery } from '../../http/params'
import { DeletedVisitor, KeyParams, KeyQuery, UpsertVisitorBody, Visitor, VisitorAck, VisitorDetail, VisitorListQuery } from './model'
import { guardPublishable, type TouchedKey } from './publishable'
import { ANONYMOUS_KEY_PREFIX, deleteVisitor, getVisitor, listVisitors, upsertVisitor, visitorInputOfBody } from './service'

const detail = { tags: ['visitors'], security: [{ bearer: [] }] }

/** The visitors controller. */
export function visitorsModule(deps: ModuleDeps) {
  const { auth, store, clock } = deps
  return new Elysia({ prefix: '/v1/visitors' })
    .use(auth)
    .get(
      '/',
      async ({ principal, query, set }) => {
        if (query.key !== undefined) return ok(set, await getVisitor(store, principal.siteId, query.key))
        return okPage(set, await listVisitors(store, principal.siteId, query))
      },
      {
        query: VisitorListQuery,
        response: responses({ 200: t.Union([Envelope(VisitorDetail), PageEnvelope(Visitor)]) }, [400, 403, 404]),
        detail: {
          ...detail,
          summary: 'Get a visitor, or list visitors',
          description:
            'With `key`: that visitor with its 50 most recent events and its segments (404 when unknown). Without: visitors, newest activity first, cursor paginated, filterable by `segment`, `email` (case-insensitive) and `updated_since`.',
        },
      },
    )
    .post(
      '/',
      async ({ principal, body, set, request }) => {
        const raw = body as Record<string, unknown>
        const input = visitorInputOfBody(raw)
        const touched: TouchedKey[] = [{ key: input.key, claimed: raw.key !== undefined || raw.user_id !== undefined }]
        if (input.anonymousId !== undefined) touched.push({ key: ANONYMOUS_KEY_PREFIX + input.anonymousId, claimed: false })
        await guardPublishable(deps, principal, request, raw.identity_token, touched)
        const { visitor, created } = await upsertVisitor(store, clock, principal.siteId, input)
        set.status = created ? 201 : 200
        return ok(set, principal.kind === 'publishable' ? { key: visitor.key, accepted: true as const } : visitor)
      },
      {
        query: t.Object(TokenQuery),
        body: UpsertVisitorBody,
        response: responses({ 200: Envelope(t.Union([Visitor, VisitorAck])), 201: Envelope(t.Union([Visitor, VisitorAck])) }, [400, 401, 403, 413]),
        detail: {
          ...detail,
          operationId: 'identifyVisitor',
          summary: 'Identify (upsert) a visitor',
          description:
            'Upsert by stable `key` (alias `user_id`): `{ key, email?, name?, ...attributes }`. Attributes not sent keep their values; `null` removes one. 201 when created, 200 when updated. Needs write scope, or the site publishable key (which receives only `{ key, accepted }`, and on sites requiring identity verification must send `identity_token`).',
        },
      },
    )
    .delete(
      '/',
      async ({ principal, query, set }) => {
        if (query.key === undefined) throw new BadRequestError('key is required: DELETE /v1/visitors?key=...', 'key')
        return ok(set, await deleteVisitor(store, principal.siteId, query.key))
      },
      {
        query: KeyQuery,
        response: responses({ 200: Envelope(DeletedVisitor) }, [400, 403, 404]),
        detail: {
          ...detail,
          operationId: 'eraseVisitor',
          summary: 'Erase a visitor',
          description: 'Privacy erasure: the visitor, their attributes, events and segment memberships are deleted. Needs write scope.',
        },
      },
    )
    .get('/:key', async ({ principal, params, set }) => ok(set, await getVisitor(store, principal.siteId, params.key)), {
      query: t.Object(TokenQuery),
      params: KeyParams,
      response: responses({ 200: Envelope(VisitorDetail) }, [400, 403, 404]),
      detail: { ...detail, summary: 'Get a visitor by key (path form)' },
    })
    .delete('/:key', async ({ principal, params, set }) => ok(set, await deleteVisitor(store, principal.siteId, params.key)), {
      query: t.Object(TokenQuery),
      params: KeyParams,
      response: responses({ 200: Envelope(DeletedVisitor) }, [400, 403, 404]),
      detail: { ...detail, operationId: 'eraseVisitorByKey', summary: 'Erase a visitor by key (path form)', description: 'Same as DELETE /v1/visitors?key=.' },
    })
}
