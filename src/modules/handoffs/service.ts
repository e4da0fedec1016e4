/** The handoff log: newest first, since a date, cursor paginated. */

import { decodeIdCursor, pageOf, parseSince } from '../../chat/paging'
import { presentHandoff } from '../../chat/present'
import type { Store } from '../../db/store'

/** One page of the site's handoffs. */
export async function listHandoffs(store: Store, siteId: number, q: { since?: string; limit?: number; cursor?: string }) {
  const limit = q.limit ?? 20
  const sinceMs = q.since !== undefined ? parseSince(q.since) : null
  const before = q.cursor ? decodeIdCursor(q.cursor) : null
  return pageOf(await store.chat.listHandoffs(siteId, sinceMs, before, limit + 1), limit, presentHandoff, (r) => r.id)
}
