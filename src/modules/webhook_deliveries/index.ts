/** `webhook_deliveries`: the delivery log (list, one with its attempts) and replay (`?action=retry`). */
import { Elysia, t } from 'elysia'
import { BadRequestError } from '../../errors'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, okPage, PageEnvelope, responses } from '../../http/envelope'
import { hidden, missingId } from '../../http/missing-id'
import { TokenQuery } from '../../http/params'
import { Delivery, DeliveryActionQuery, DeliveryDetail, DeliveryIdParams, ListDeliveriesQuery } from './model'
import { getDelivery, listDeliveries, retryDelivery } from './service'

const detail = { tags: ['webhooks'], security: [{ bearer: [] }] }

/** The webhook deliveries controller. */
export function webhookDeliveriesModule({ auth, store, clock, webhooks }: ModuleDeps) {
  const deps = { store, clock, webhooks }
  return new Elysia({ prefix: '/v1/webhook_deliveries' })
    .use(auth)
    .get('/', async ({ principal, query, set }) => okPage(set, await listDeliveries(deps, principal.siteId, query)), {
      query: ListDeliveriesQuery,
      response: responses({ 200: PageEnvelope(Delivery) }, [400, 403]),
      detail: {
        ...detail,
        summary: 'List webhook deliveries',
        description: 'Newest first, cursor paginated; filter by `subscription_id`, `status` (pending, succeeded, failed, dead) and `event`.',
      },
    })
    .get('/:id', async ({ principal, params, set }) => ok(set, await getDelivery(deps, principal.siteId, params.id)), {
      query: t.Object(TokenQuery),
      params: DeliveryIdParams,
      response: responses({ 200: Envelope(DeliveryDetail) }, [400, 404]),
      detail: { ...detail, summary: 'Get a webhook delivery with its attempt log' },
    })
    .post(
      '/:id',
      async ({ principal, params, query, set }) => {
        if (query.action !== 'retry') throw new BadRequestError('action is required: retry', 'action')
        return ok(set, await retryDelivery(deps, principal.siteId, params.id))
      },
      {
        query: DeliveryActionQuery,
        params: DeliveryIdParams,
        response: responses({ 200: Envelope(Delivery) }, [400, 403, 404, 409]),
        detail: {
          ...detail,
          operationId: 'retryWebhookDelivery',
          summary: 'Retry a delivery (action=retry)',
          description:
            'Needs write scope. Re-queues the delivery (dead ones included) for an immediate attempt with the same event id; ' +
            'if it fails, the remaining schedule applies (a dead one is dead again). 409 while an attempt is in flight or the subscription is inactive.',
        },
      },
    )
    .post('/', () => missingId('webhook_deliveries'), hidden)
}
