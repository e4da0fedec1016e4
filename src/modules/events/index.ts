/**
 * `events`: the event feed. Every event mlc emits is stored and listed here, so a consumer can poll
 * instead of (or as well as) receiving webhooks. Each event is sent as the exact bytes its webhooks
 * deliver (src/http/spliced-envelope.ts), so both can be compared and deduplicated by `id`.
 */
import { Elysia, t } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, PageEnvelope, responses } from '../../http/envelope'
import { TokenQuery } from '../../http/params'
import { okJsonText, okPageJsonText } from '../../http/spliced-envelope'
import { Event, EventIdParams, ListEventsQuery } from './model'
import { getEvent, listEvents } from './service'

const detail = { tags: ['webhooks'], security: [{ bearer: [] }] }

/** The events controller (read scope). */
export function eventsModule({ auth, store }: ModuleDeps) {
  return (
    new Elysia({ prefix: '/v1/events' })
      .use(auth)
      // '' rather than '/': the collection is /v1/events (Elysia answers /v1/events/ as well).
      .get('', async ({ principal, query, set }) => okPageJsonText(set, await listEvents(store, principal.siteId, query)), {
        query: ListEventsQuery,
        response: responses({ 200: PageEnvelope(Event) }, [400, 403]),
        detail: {
          ...detail,
          summary: 'List events (the event feed)',
          description:
            'Every event this site emitted, delivered by a webhook or not, each byte for byte the body its webhooks send. ' +
            'Newest first; `order=asc` oldest first. Filters: `type`, `since` (ISO-8601). `limit` (1-100), `cursor` (next_cursor), ' +
            'or `starting_after=evt_...` to resume after the last event seen. Kept MLC_EVENT_RETENTION_DAYS (30).',
        },
      })
      .get('/:id', async ({ principal, params, set }) => okJsonText(set, await getEvent(store, principal.siteId, params.id)), {
        query: t.Object(TokenQuery),
        params: EventIdParams,
        response: responses({ 200: Envelope(Event) }, [403, 404]),
        detail: {
          ...detail,
          summary: 'Get an event',
          description: 'Byte for byte the body its webhooks deliver. 404 for an unknown id or one of another site.',
        },
      })
  )
}
