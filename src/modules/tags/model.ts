/** Tag schemas: the single source for validation, types and the OpenAPI document. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'

const Color = t.String({ pattern: '^#[0-9a-fA-F]{6}$', error: 'color must be a hex color like #2563eb', examples: ['#2563eb'] })
const Name = t.String({ minLength: 1, maxLength: 64, error: 'name must be 1-64 characters' })

export const Tag = t.Object({ id: ResponseInteger(), name: t.String(), color: t.String() })
export type Tag = Static<typeof Tag>

export const CreateTagBody = t.Object({ name: Name, color: t.Optional(Color) })
export type CreateTagInput = Static<typeof CreateTagBody>

export const UpdateTagBody = t.Object({ name: t.Optional(Name), color: t.Optional(Color) })
export type UpdateTagInput = Static<typeof UpdateTagBody>

export const DeletedTag = t.Object({ id: ResponseInteger(), deleted: t.Literal(true) })

/** Color given to a tag created without one. */
export const DEFAULT_TAG_COLOR = '#64748b'
