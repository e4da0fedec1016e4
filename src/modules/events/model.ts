/** Event feed schemas: the single source for validation, types and the OpenAPI document. */
import { type Static, t } from 'elysia'
import { PageQuery, TokenQuery } from '../../http/params'
import { EVENT_TYPES } from '../../webhooks/enqueue'

const EventType = t.Union(
  EVENT_TYPES.map((type) => t.Literal(type)),
  { error: `type must be ${EVENT_TYPES.slice(0, -1).join(', ')} or ${EVENT_TYPES.at(-1)}` },
)

/**
 * An event, as its webhooks deliver it. Its fields beyond these three depend on its type
 * (docs/api.md, docs/webhooks.md), so the schema names the three every event has and allows the rest.
 */
export const Event = t.Object(
  {
    id: t.String({ description: 'Event id (`evt_...`): the `webhook-id` header and `id` of every delivery of it; deduplicate on it' }),
    event: t.String({ description: `The event type: ${EVENT_TYPES.join(', ')}` }),
    created_utc: t.String({ description: 'When it happened (ISO-8601 UTC)' }),
  },
  {
    additionalProperties: true,
    description: 'Byte for byte the JSON body its webhooks deliver: `id`, `event`, the fields of its type, `created_utc`.',
  },
)

export const ListEventsQuery = t.Object({
  ...TokenQuery,
  ...PageQuery,
  type: t.Optional(EventType),
  since: t.Optional(t.String({ description: 'ISO-8601: only events created at or after this instant.' })),
  starting_after: t.Optional(
    t.String({
      maxLength: 100,
      description: 'An event id (`evt_...`): only events after it in this order (older when newest first; newer with `order=asc`). Resumes a feed.',
    }),
  ),
  order: t.Optional(
    t.Union([t.Literal('desc'), t.Literal('asc')], { error: 'order must be desc or asc', description: 'desc (default): newest first; asc: oldest first' }),
  ),
})
export type ListEventsQuery = Static<typeof ListEventsQuery>

export const EventIdParams = t.Object({ id: t.String({ description: 'Event id (`evt_...`)' }) })
