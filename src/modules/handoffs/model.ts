/** Handoff log schemas. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'
import { TokenQuery } from '../../http/params'
import { RequestInteger } from '../../http/request-integer'
import { HandoffReason, VisitorRef } from '../sessions/model'

export const Handoff = t.Object({
  id: ResponseInteger(),
  session_id: t.String(),
  visitor: VisitorRef,
  handoff_reason: HandoffReason,
  summary: t.String({ description: "The provider's summary (an extractive one under the kb provider)." }),
  created_utc: t.String(),
})
export type Handoff = Static<typeof Handoff>

export const ListHandoffsQuery = t.Object({
  ...TokenQuery,
  since: t.Optional(t.String({ description: 'ISO-8601: only handoffs at or after this instant.' })),
  limit: t.Optional(RequestInteger({ minimum: 1, maximum: 100, default: 20, error: 'limit must be an integer from 1 to 100' })),
  cursor: t.Optional(t.String({ maxLength: 200, description: 'next_cursor from the previous page' })),
})
