/** Segment schemas: the single source for validation, types and the OpenAPI document. */
import { Type } from '@sinclair/typebox'
import { type Static, t } from 'elysia'

const Name = t.String({ minLength: 1, maxLength: 100, error: 'name must be 1-100 characters' })
const RuleInput = t.Unknown({
  description:
    'A group `{ "all": [...] }` or `{ "any": [...] }` (nestable, up to 5 deep, 50 conditions) of attribute conditions `{ "attribute", "op": eq|neq|in|exists|not_exists|gt|gte|lt|lte|contains, "value" }` and event conditions `{ "event", "count": { "gte": 3 }, "within_days": 7 }`.',
})

export const Segment = t.Object({
  id: Type.Integer(),
  name: t.String(),
  rule: t.Unknown({ description: 'The rule as sent.' }),
  member_count: Type.Integer(),
  created_utc: t.String(),
  updated_utc: t.String(),
})
export type Segment = Static<typeof Segment>

export const CreateSegmentBody = t.Object({ name: Name, rule: RuleInput })
export type CreateSegmentInput = Static<typeof CreateSegmentBody>

export const UpdateSegmentBody = t.Object({ name: t.Optional(Name), rule: t.Optional(RuleInput) })
export type UpdateSegmentInput = Static<typeof UpdateSegmentBody>

export const DeletedSegment = t.Object({ id: Type.Integer(), deleted: t.Literal(true) })
