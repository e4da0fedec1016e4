/**
 * The event feed: every event this site emitted (webhook or not), as the stored JSON text its
 * webhooks deliver, newest or oldest first, cursor paginated. Plain functions over the store.
 */
import { parseSince } from '../../chat/paging'
import type { FeedEventRow, FeedPosition } from '../../db/rows'
import type { Store } from '../../db/store'
import { BadRequestError, NotFoundError } from '../../errors'
import { createdMsOfEventId } from '../../webhooks/enqueue'
import type { ListEventsQuery } from './model'

/** One page of events, each the JSON text to send as is. */
export interface EventPage {
  items: string[]
  has_more: boolean
  next_cursor: string | null
}

function encodeCursor(row: FeedEventRow): string {
  return Buffer.from(`${row.created_ms}.${row.id}`).toString('base64url')
}

function decodeCursor(cursor: string): FeedPosition {
  const m = /^(-?\d{1,16})\.(evt_[0-9a-f]{32})$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (!m) throw new BadRequestError('cursor is not a next_cursor this API returned', 'cursor')
  return { createdMs: Number(m[1]), id: m[2] as string }
}

/** Where the page starts: after the cursor, or after the event `starting_after` (its id holds its creation time). */
function startOf(q: ListEventsQuery): FeedPosition | null {
  if (q.cursor !== undefined && q.starting_after !== undefined) {
    throw new BadRequestError('Pass cursor or starting_after, not both.', 'starting_after')
  }
  if (q.cursor !== undefined) return decodeCursor(q.cursor)
  if (q.starting_after === undefined) return null
  // Read from the id, not looked up: a consumer resumes after the last event it saw, even one of
  // another site (whose place reveals nothing but its time) or one pruned meanwhile.
  const createdMs = createdMsOfEventId(q.starting_after)
  if (createdMs === null) throw new BadRequestError('starting_after must be an event id (evt_...) this API returned', 'starting_after')
  return { createdMs, id: q.starting_after }
}

/** A page of a site's events: newest first, or oldest first with `order=asc`. */
export async function listEvents(store: Store, siteId: number, q: ListEventsQuery): Promise<EventPage> {
  const limit = q.limit ?? 20
  const after = startOf(q)
  const rows = await store.webhooks.listEvents(siteId, {
    type: q.type ?? null,
    sinceMs: q.since !== undefined ? parseSince(q.since) : null,
    after,
    order: q.order ?? 'desc',
    limit: limit + 1,
  })
  const has_more = rows.length > limit
  const shown = has_more ? rows.slice(0, limit) : rows
  const last = shown.at(-1)
  return { items: shown.map((r) => r.body), has_more, next_cursor: has_more && last ? encodeCursor(last) : null }
}

/** One event of a site, as the JSON text its webhooks deliver; 404 naming `id` for an unknown id or another site's. */
export async function getEvent(store: Store, siteId: number, id: string): Promise<string> {
  const row = await store.webhooks.getSiteEvent(siteId, id)
  if (!row) throw new NotFoundError(`No event with id ${id}.`, 'id')
  return row.body
}
