/**
 * `webhook_subscriptions`: create, list, update and delete a site's webhook endpoints, rotate
 * their signing secret (`?action=rotate_secret`) and send a test ping (`?action=test`).
 */
import { Elysia, t } from 'elysia'
import { BadRequestError } from '../../errors'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { hidden, missingId } from '../../http/missing-id'
import { IdParams, TokenQuery } from '../../http/params'
import {
  CreateSubscriptionBody,
  DeletedSubscription,
  Subscription,
  SubscriptionAction,
  SubscriptionWithSecret,
  TestResult,
  UpdateSubscriptionBody,
} from './model'
import { createSubscription, deleteSubscription, getSubscription, listSubscriptions, rotateSecret, testSubscription, updateSubscription } from './service'

const query = t.Object(TokenQuery)
const actionQuery = t.Object({ ...TokenQuery, action: SubscriptionAction })
const detail = { tags: ['webhooks'], security: [{ bearer: [] }] }

/** The webhook subscriptions controller. */
export function webhookSubscriptionsModule({ auth, store, clock, config, webhooks }: ModuleDeps) {
  const deps = { store, clock, config, webhooks }
  return new Elysia({ prefix: '/v1/webhook_subscriptions' })
    .use(auth)
    .get('/', async ({ principal, set }) => ok(set, await listSubscriptions(deps, principal.siteId)), {
      query,
      response: responses({ 200: Envelope(t.Array(Subscription)) }, [403]),
      detail: { ...detail, summary: 'List webhook subscriptions', description: 'Oldest first. Secrets are shown as a prefix only.' },
    })
    .post(
      '/',
      async ({ principal, body, set }) => {
        set.status = 201
        return ok(set, await createSubscription(deps, principal.siteId, body))
      },
      {
        query,
        body: CreateSubscriptionBody,
        response: responses({ 201: Envelope(SubscriptionWithSecret) }, [400, 403, 409, 413]),
        detail: {
          ...detail,
          summary: 'Create a webhook subscription',
          description:
            'Needs write scope. `events`: handoff, feedback, ping, or * for all. The `secret` is shown only in this answer. ' +
            'A URL whose host is or resolves to anything but a public unicast address (loopback, private, link-local, CGNAT, unique-local, metadata, reserved, tunnel ranges...) is refused (400, param url).',
        },
      },
    )
    .get('/:id', async ({ principal, params, set }) => ok(set, await getSubscription(deps, principal.siteId, params.id)), {
      query,
      params: IdParams,
      response: responses({ 200: Envelope(Subscription) }, [400, 404]),
      detail: { ...detail, summary: 'Get a webhook subscription' },
    })
    .patch('/:id', async ({ principal, params, body, set }) => ok(set, await updateSubscription(deps, principal.siteId, params.id, body)), {
      query,
      params: IdParams,
      body: UpdateSubscriptionBody,
      response: responses({ 200: Envelope(Subscription) }, [400, 403, 404, 413]),
      detail: {
        ...detail,
        summary: 'Update a webhook subscription',
        description: 'Needs write scope. `active: false` stops delivery and dead-letters what is queued (replay with webhook_deliveries ?action=retry).',
      },
    })
    .delete('/:id', async ({ principal, params, set }) => ok(set, await deleteSubscription(deps, principal.siteId, params.id)), {
      query,
      params: IdParams,
      response: responses({ 200: Envelope(DeletedSubscription) }, [400, 403, 404]),
      detail: {
        ...detail,
        summary: 'Delete a webhook subscription',
        description: 'Needs write scope. Pending deliveries stop; the delivery log of the subscription goes with it.',
      },
    })
    .post(
      '/:id',
      async ({ principal, params, query, set }) => {
        if (query.action === 'rotate_secret') return ok(set, await rotateSecret(deps, principal.siteId, params.id))
        if (query.action === 'test') return ok(set, await testSubscription(deps, principal.siteId, params.id))
        throw new BadRequestError('action is required: rotate_secret or test', 'action')
      },
      {
        query: actionQuery,
        params: IdParams,
        response: responses({ 200: t.Union([Envelope(SubscriptionWithSecret), Envelope(TestResult)]) }, [400, 403, 404, 409, 413]),
        detail: {
          ...detail,
          operationId: 'runWebhookSubscriptionAction',
          summary: 'Rotate the secret (action=rotate_secret) or send a test ping (action=test)',
          description:
            'Needs write scope. `rotate_secret` answers the subscription with its new `secret`; for MLC_WEBHOOK_ROTATION_GRACE seconds ' +
            '(default 86400) deliveries also carry a `webhook-signature` entry made with the old one. `test` sends a `ping` through the ' +
            'same queue and schedule as any event and answers `delivery_id` and the first attempt (409 if the subscription is inactive).',
        },
      },
    )
    .patch('/', () => missingId('webhook_subscriptions'), hidden)
    .delete('/', () => missingId('webhook_subscriptions'), hidden)
}
