/** Webhook subscription schemas: the single source for validation, types and the OpenAPI document. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'

const EventName = t.Union([t.Literal('handoff'), t.Literal('feedback'), t.Literal('ping'), t.Literal('*')], {
  error: 'events must be a non-empty list of handoff, feedback, ping or *',
})
const Events = t.Array(EventName, {
  minItems: 1,
  maxItems: 4,
  uniqueItems: true,
  error: 'events must be a non-empty list of handoff, feedback, ping or * (each once)',
  examples: [['handoff', 'feedback']],
})
const Url = t.String({
  minLength: 1,
  maxLength: 2048,
  error: 'url must be an http or https URL of at most 2048 characters',
  examples: ['https://example.com/hooks/mlc'],
})
const Description = t.String({ maxLength: 256, error: 'description must be at most 256 characters' })

export const Subscription = t.Object({
  id: ResponseInteger(),
  url: t.String(),
  events: t.Array(t.String()),
  active: t.Boolean(),
  description: t.String(),
  disabled_reason: t.Union([t.String(), t.Null()], {
    description: '`gone` when the endpoint answered 410 and delivery stopped, `manual` when set inactive; null while active',
  }),
  secret_prefix: t.String({ description: 'The first characters of the signing secret (the full secret is shown on create and rotation only).' }),
  previous_secret_valid_until_utc: t.Union([t.String(), t.Null()], {
    description: 'After a rotation: until when deliveries also carry a signature made with the previous secret.',
  }),
  created_utc: t.String(),
  updated_utc: t.String(),
})
export type Subscription = Static<typeof Subscription>

export const SubscriptionWithSecret = t.Object({
  ...Subscription.properties,
  secret: t.String({ description: '`whsec_` + base64 of 32 random bytes. Shown only now: store it.' }),
})
export type SubscriptionWithSecret = Static<typeof SubscriptionWithSecret>

export const CreateSubscriptionBody = t.Object({ url: Url, events: Events, description: t.Optional(Description) })
export type CreateSubscriptionInput = Static<typeof CreateSubscriptionBody>

export const UpdateSubscriptionBody = t.Object({
  url: t.Optional(Url),
  events: t.Optional(Events),
  description: t.Optional(Description),
  active: t.Optional(t.Boolean({ error: 'active must be true or false' })),
})
export type UpdateSubscriptionInput = Static<typeof UpdateSubscriptionBody>

export const DeletedSubscription = t.Object({ id: ResponseInteger(), deleted: t.Literal(true) })

export const SubscriptionAction = t.Optional(
  t.Union([t.Literal('rotate_secret'), t.Literal('test')], { error: 'action must be rotate_secret or test', description: 'rotate_secret | test' }),
)

export const AttemptResult = t.Object({
  number: ResponseInteger(),
  at_utc: t.String(),
  duration_ms: ResponseInteger(),
  status_code: t.Union([ResponseInteger(), t.Null()]),
  error: t.Union([t.String({ description: 'timeout | dns | refused | tls | http' }), t.Null()]),
  error_message: t.Union([t.String(), t.Null()]),
  succeeded: t.Boolean(),
})

export const TestResult = t.Object({
  delivery_id: t.String(),
  event_id: t.String(),
  status: t.String({ description: 'The delivery status after the first attempt: succeeded, failed (retrying), dead, or pending if it did not finish in time' }),
  next_attempt_utc: t.Union([t.String(), t.Null()]),
  attempt: t.Union([AttemptResult, t.Null()], { description: 'The first attempt, or null if it did not finish within the timeout' }),
})
export type TestResult = Static<typeof TestResult>

/** Subscriptions one site may have. */
export const MAX_SUBSCRIPTIONS_PER_SITE = 50
