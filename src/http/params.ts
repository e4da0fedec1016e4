/** Schemas shared by many routes: path ids and cursor pagination. */
import { t } from 'elysia'
import { RequestInteger } from './request-integer'

/** `/:id` for integer ids. */
export const IdParams = t.Object({ id: RequestInteger({ minimum: 1, error: 'id must be a positive integer' }) })

/** `limit` and `cursor` of cursor-paginated lists. */
export const PageQuery = {
  limit: t.Optional(RequestInteger({ minimum: 1, maximum: 100, default: 20, error: 'limit must be an integer from 1 to 100' })),
  cursor: t.Optional(t.String({ maxLength: 200, description: 'next_cursor from the previous page' })),
}

/** `?token=` is accepted on every authenticated route (the bearer header is preferred). */
export const TokenQuery = {
  token: t.Optional(t.String({ description: 'API token, when the Authorization header cannot be sent' })),
}
