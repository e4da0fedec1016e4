/** Conversation starter schemas: the single source for validation, types and the OpenAPI document. */
import { Type } from '@sinclair/typebox'
import { type Static, t } from 'elysia'
import { TokenQuery } from '../../http/params'
import { RequestInteger } from '../../http/request-integer'

const Prompt = t.String({ minLength: 1, maxLength: 200, error: 'prompt must be 1-200 characters' })
const Position = RequestInteger({ minimum: 0, maximum: 1_000_000, error: 'position must be an integer from 0 to 1000000' })

export const Starter = t.Object({ id: Type.Integer(), prompt: t.String(), position: Type.Integer(), enabled: t.Boolean() })
export type Starter = Static<typeof Starter>

export const CreateStarterBody = t.Object({
  prompt: Prompt,
  position: t.Optional(Position),
  enabled: t.Optional(t.Boolean({ error: 'enabled must be true or false' })),
})
export type CreateStarterInput = Static<typeof CreateStarterBody>

export const UpdateStarterBody = t.Object({
  prompt: t.Optional(Prompt),
  position: t.Optional(Position),
  enabled: t.Optional(t.Boolean({ error: 'enabled must be true or false' })),
})
export type UpdateStarterInput = Static<typeof UpdateStarterBody>

export const StarterListQuery = t.Object({
  ...TokenQuery,
  all: t.Optional(t.BooleanString({ description: 'true: include disabled starters', error: 'all must be true or false' })),
})

export const DeletedStarter = t.Object({ id: Type.Integer(), deleted: t.Literal(true) })
