/** Tracked-event request and response schemas: the single source for validation, types and the OpenAPI document. */
import { Type } from '@sinclair/typebox'
import { type Static, t } from 'elysia'
import { TokenQuery } from '../../http/params'
import { KeyInput, VisitorEvent } from '../visitors/model'

export const TrackQuery = t.Object(TokenQuery)

const TrackItemFields = {
  key: t.Optional(KeyInput),
  user_id: t.Optional(t.Union([t.String(), t.Number()])),
  anonymous_id: t.Optional(t.String()),
  name: t.Optional(t.Unknown({ description: 'Event name, 1-128 characters.' })),
  properties: t.Optional(t.Unknown({ description: 'Flat object of scalars or flat arrays, up to 4 KB as JSON.' })),
  timestamp: t.Optional(t.Unknown({ description: 'ISO-8601; defaults to now; at most 1 h in the future.' })),
  event_id: t.Optional(t.Unknown({ description: 'Idempotency id, 1-128 characters: a repeat returns the first event.' })),
}

export const TrackBody = t.Object(
  {
    ...TrackItemFields,
    events: t.Optional(t.Array(t.Unknown(), { description: 'Batch form: up to 100 events, each answered on its own.' })),
    identity_token: t.Optional(t.String()),
  },
  // Unknown fields reach the service, which rejects them by name (Elysia would strip them silently).
  { additionalProperties: true },
)
export type TrackBody = Static<typeof TrackBody>

export const TrackedEvent = t.Composite([VisitorEvent, t.Object({ duplicate: t.Boolean({ description: 'true when event_id was seen before' }) })])
export type TrackedEvent = Static<typeof TrackedEvent>

export const BatchItemResult = t.Union([
  t.Object({ index: Type.Integer(), ok: t.Literal(true), id: Type.Integer(), event_id: t.Union([t.String(), t.Null()]), duplicate: t.Boolean() }),
  t.Object({
    index: Type.Integer(),
    ok: t.Literal(false),
    error: t.Object({ code: t.String(), message: t.String(), param: t.Optional(t.String()) }),
  }),
])
export type BatchItemResult = Static<typeof BatchItemResult>

export const BatchResult = t.Object({
  stored: Type.Integer({ description: 'events stored now' }),
  duplicates: Type.Integer({ description: 'events whose event_id was already stored' }),
  failed: Type.Integer(),
  results: t.Array(BatchItemResult),
})
export type BatchResult = Static<typeof BatchResult>
