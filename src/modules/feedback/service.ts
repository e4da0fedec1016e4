/** Post-chat feedback for the site: newest first, filterable by date and rating. */

import { decodeIdCursor, pageOf, parseSince } from '../../chat/paging'
import { presentFeedback } from '../../chat/present'
import type { Store } from '../../db/store'

/** One page of the site's feedback. */
export async function listFeedback(store: Store, siteId: number, q: { since?: string; rating?: number; limit?: number; cursor?: string }) {
  const limit = q.limit ?? 20
  const rows = await store.chat.listFeedback(siteId, {
    sinceMs: q.since !== undefined ? parseSince(q.since) : null,
    rating: q.rating ?? null,
    beforeId: q.cursor ? decodeIdCursor(q.cursor) : null,
    limit: limit + 1,
  })
  return pageOf(rows, limit, presentFeedback, (r) => r.id)
}
