/** whoami schema. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'

export const Whoami = t.Object({
  site_id: ResponseInteger(),
  token_id: ResponseInteger(),
  name: t.String(),
  scopes: t.Array(t.String()),
  plan: t.String(),
  request_count: ResponseInteger({ description: 'Requests made with this token, including this one.' }),
  requests_today: ResponseInteger({ description: 'Requests made with this token on the current UTC day.' }),
  rate_limit: t.Object({
    limit: ResponseInteger({ description: 'Requests per minute.' }),
    remaining: ResponseInteger(),
    reset_utc: t.String({ description: 'When the bucket is full again (ISO-8601).' }),
  }),
  created_utc: t.String(),
  last_used_utc: t.Union([t.String(), t.Null()]),
})
export type Whoami = Static<typeof Whoami>
