/**
 * `track`: record one event or a batch. Writes go through the store's group commit: events
 * arriving together may share one transaction, and each response is sent after that COMMIT.
 */
import { Elysia, t } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { guardPublishable } from '../visitors/publishable'
import { BatchResult, TrackBody, TrackedEvent, TrackQuery } from './model'
import { parseBatch, parseTrackItem, type TrackInput, trackBatchGrouped, trackGrouped, trackItemsOfBody } from './service'

/** The track controller. */
export function trackModule(deps: ModuleDeps) {
  const { auth, store, clock } = deps
  return new Elysia({ prefix: '/v1/track' }).use(auth).post(
    '/',
    async ({ principal, body, set, request }) => {
      const raw = body as Record<string, unknown>
      const { batch, items } = trackItemsOfBody(raw)
      const now = clock.now()
      if (!batch) {
        const input = parseTrackItem(items[0], now)
        await guardPublishable(deps, principal, request, raw.identity_token, [input])
        const { event, duplicate } = await trackGrouped(store, clock, principal.siteId, input)
        set.status = duplicate ? 200 : 201
        return ok(set, { ...event, duplicate })
      }
      const parsed = parseBatch(items, now)
      const valid = parsed.filter((p): p is TrackInput => !(p instanceof Error))
      await guardPublishable(deps, principal, request, raw.identity_token, valid)
      return ok(set, await trackBatchGrouped(store, clock, principal.siteId, parsed))
    },
    {
      query: TrackQuery,
      body: TrackBody,
      response: responses({ 201: Envelope(TrackedEvent), 200: Envelope(t.Union([TrackedEvent, BatchResult])) }, [400, 401, 403, 413]),
      detail: {
        tags: ['track'],
        security: [{ bearer: [] }],
        operationId: 'trackEvent',
        summary: 'Track an event (or a batch)',
        description:
          '`{ key, name, properties?, timestamp?, event_id? }`: 201 with the stored event; an unknown key creates the visitor. A repeated `event_id` answers 200 with the first event (`duplicate: true`) and stores nothing. Batch: `{ events: [...up to 100] }` answers 200 with one result per item. The response is sent after the event is committed. Needs write scope or the site publishable key.',
      },
    },
  )
}
