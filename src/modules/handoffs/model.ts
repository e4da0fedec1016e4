/** Handoff log schemas. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'
import { PageQuery, TokenQuery } from '../../http/params'
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
  ...PageQuery,
})
