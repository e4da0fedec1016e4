/** whoami schema. */
import { type Static, t } from 'elysia'

export const Whoami = t.Object({
  site_id: t.Integer(),
  token_id: t.Integer(),
  name: t.String(),
  scopes: t.Array(t.String()),
  plan: t.String(),
  request_count: t.Integer({ description: 'Requests made with this token, including this one.' }),
  requests_today: t.Integer({ description: 'Requests made with this token on the current UTC day.' }),
  rate_limit: t.Object({
    limit: t.Integer({ description: 'Requests per minute.' }),
    remaining: t.Integer(),
    reset_utc: t.String({ description: 'When the bucket is full again (ISO-8601).' }),
  }),
  created_utc: t.String(),
  last_used_utc: t.Union([t.String(), t.Null()]),
})
export type Whoami = Static<typeof Whoami>
