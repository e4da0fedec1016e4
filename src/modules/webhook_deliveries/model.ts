/** Webhook delivery schemas: the single source for validation, types and the OpenAPI document. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'
import { PageQuery, TokenQuery } from '../../http/params'
import { RequestInteger } from '../../http/request-integer'

const Status = t.Union([t.Literal('pending'), t.Literal('succeeded'), t.Literal('failed'), t.Literal('dead')], {
  error: 'status must be pending, succeeded, failed or dead',
})
const EventName = t.Union([t.Literal('handoff'), t.Literal('feedback'), t.Literal('ping')], { error: 'event must be handoff, feedback or ping' })

export const Delivery = t.Object({
  id: t.String({ description: 'Delivery id (`dlv_...`), sent as X-MLC-Delivery' }),
  event_id: t.String({ description: 'Event id (`evt_...`), sent as webhook-id and as `id` in the body; the same on every retry' }),
  event: t.String(),
  subscription_id: ResponseInteger(),
  status: t.String({ description: 'pending (not tried yet), succeeded, failed (retrying), dead (no more automatic retries)' }),
  attempts: ResponseInteger(),
  next_attempt_utc: t.Union([t.String(), t.Null()]),
  last_attempt_utc: t.Union([t.String(), t.Null()]),
  last_status_code: t.Union([ResponseInteger(), t.Null()]),
  last_error: t.Union([t.String(), t.Null()]),
  created_utc: t.String(),
})
export type Delivery = Static<typeof Delivery>

export const Attempt = t.Object({
  number: ResponseInteger(),
  at: t.String({ description: 'When the attempt started (ISO-8601)' }),
  url: t.String(),
  duration_ms: ResponseInteger(),
  status_code: t.Union([ResponseInteger(), t.Null()]),
  error: t.Union([t.String({ description: 'timeout | dns | refused | tls | http' }), t.Null()]),
  error_message: t.Union([t.String(), t.Null()]),
  request_headers: t.Record(t.String(), t.String(), { description: 'The headers sent (signatures included; never a secret)' }),
  response_body: t.Union([t.String(), t.Null()], { description: 'The first 4 KB of the answer' }),
})
export type Attempt = Static<typeof Attempt>

export const DeliveryDetail = t.Object({ ...Delivery.properties, attempt_log: t.Array(Attempt) })
export type DeliveryDetail = Static<typeof DeliveryDetail>

export const ListDeliveriesQuery = t.Object({
  ...TokenQuery,
  ...PageQuery,
  subscription_id: t.Optional(RequestInteger({ minimum: 1, error: 'subscription_id must be a positive integer' })),
  status: t.Optional(Status),
  event: t.Optional(EventName),
})
export type ListDeliveriesQuery = Static<typeof ListDeliveriesQuery>

export const DeliveryIdParams = t.Object({ id: t.String({ pattern: '^dlv_[0-9a-f]{32}$', error: 'id must be a delivery id (dlv_...)' }) })

export const DeliveryActionQuery = t.Object({
  ...TokenQuery,
  action: t.Optional(t.Literal('retry', { error: 'action must be retry', description: 'retry' })),
})
