/** Post-chat feedback schemas. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'
import { PageQuery, TokenQuery } from '../../http/params'
import { RequestInteger } from '../../http/request-integer'
import { VisitorRef } from '../sessions/model'

/** Longest feedback comment. */
export const MAX_COMMENT_CHARS = 2000

export const Rating = RequestInteger({ minimum: 1, maximum: 5, error: 'rating must be an integer from 1 to 5' })

export const Feedback = t.Object({
  id: ResponseInteger(),
  session_id: t.String(),
  visitor: VisitorRef,
  rating: ResponseInteger({ minimum: 1, maximum: 5 }),
  comment: t.Union([t.String(), t.Null()]),
  created_utc: t.String(),
})
export type Feedback = Static<typeof Feedback>

export const ListFeedbackQuery = t.Object({
  ...TokenQuery,
  since: t.Optional(t.String({ description: 'ISO-8601: only feedback at or after this instant.' })),
  rating: t.Optional(Rating),
  ...PageQuery,
})
