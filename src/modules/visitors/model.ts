/** Visitor and tracked-event schemas: the single source for validation, types and the OpenAPI document. */
// Response integers use plain TypeBox: Elysia's t.Integer coerces strings and would show as string-or-integer in OpenAPI.
import { Type } from '@sinclair/typebox'
import { type Static, t } from 'elysia'
import { PageQuery, TokenQuery } from '../../http/params'
import { RequestInteger } from '../../http/request-integer'

/** Limits of the visitor and event model (also quoted in 400 messages). */
export const VISITOR_LIMITS = {
  keyMax: 128,
  attributes: 100,
  attributeNameMax: 64,
  stringValueMax: 1024,
  arrayItems: 100,
  emailMax: 254,
  nameMax: 200,
  eventNameMax: 128,
  eventIdMax: 128,
  propertiesBytes: 4096,
  futureMs: 3_600_000,
  batch: 100,
  recentEvents: 50,
}

/** Body fields that are not attributes. */
export const RESERVED_FIELDS = new Set(['key', 'user_id', 'anonymous_id', 'email', 'name', 'attributes', 'identity_token'])

const Scalar = t.Union([t.String(), t.Number(), t.Boolean()])
/** An attribute or property value: a scalar or a flat array of scalars. */
export const AttributeValue = t.Union([Scalar, t.Array(Scalar)])
export type AttributeValue = Static<typeof AttributeValue>

export const KeyInput = t.Union([t.String(), t.Number()], { description: 'The stable visitor key, 1-128 characters (numbers are taken as text).' })

export const SegmentMembership = t.Object({ id: Type.Integer(), name: t.String(), entered_utc: t.String() })

export const Visitor = t.Object({
  id: Type.Integer(),
  key: t.String(),
  email: t.Union([t.String(), t.Null()]),
  name: t.Union([t.String(), t.Null()]),
  attributes: t.Record(t.String(), AttributeValue),
  first_seen_utc: t.String(),
  last_seen_utc: t.String(),
  event_count: Type.Integer(),
  segments: t.Array(SegmentMembership),
})
export type Visitor = Static<typeof Visitor>

/** What a publishable key receives from POST visitors: no profile, so a page cannot read another visitor. */
export const VisitorAck = t.Object({ key: t.String(), accepted: t.Literal(true) })
export type VisitorAck = Static<typeof VisitorAck>

export const VisitorEvent = t.Object({
  id: Type.Integer(),
  event_id: t.Union([t.String(), t.Null()]),
  key: t.String(),
  name: t.String(),
  properties: t.Record(t.String(), t.Union([AttributeValue, t.Null()])),
  timestamp_utc: t.String(),
  received_utc: t.String(),
})
export type VisitorEvent = Static<typeof VisitorEvent>

export const VisitorDetail = t.Composite([Visitor, t.Object({ events: t.Array(t.Omit(VisitorEvent, ['key'])) })])
export type VisitorDetail = Static<typeof VisitorDetail>

export const UpsertVisitorBody = t.Object(
  {
    key: t.Optional(KeyInput),
    user_id: t.Optional(t.Union([t.String(), t.Number()], { description: 'Alias of key (the SDK sends it).' })),
    anonymous_id: t.Optional(
      t.String({
        description:
          'The anonymous id a visitor had before login. Alone, it identifies the anonymous visitor (key "anon:<id>"); with key, that visitor is merged into the keyed one.',
      }),
    ),
    email: t.Optional(t.Union([t.String(), t.Null()])),
    name: t.Optional(t.Union([t.String(), t.Null()])),
    attributes: t.Optional(t.Unknown({ description: 'Custom attributes (an object); they may also be sent as top-level fields.' })),
    identity_token: t.Optional(t.String({ description: 'Identity JWT (publishable-key callers on sites that require verification).' })),
  },
  { additionalProperties: true, description: 'Any other top-level field is a custom attribute; null removes one.' },
)
export type UpsertVisitorBody = Static<typeof UpsertVisitorBody>

export const VisitorListQuery = t.Object({
  ...TokenQuery,
  ...PageQuery,
  key: t.Optional(t.String({ description: 'Return this one visitor with its events and segments instead of a list.' })),
  segment: t.Optional(RequestInteger({ minimum: 1, error: 'segment must be a segment id' })),
  email: t.Optional(t.String()),
  updated_since: t.Optional(t.String({ description: 'ISO-8601; visitors changed at or after it.' })),
})

export const KeyQuery = t.Object({ ...TokenQuery, key: t.Optional(t.String()) })
export const KeyParams = t.Object({ key: t.String() })

export const DeletedVisitor = t.Object({ key: t.String(), deleted: t.Literal(true) })
