/** Knowledge-base articles: CRUD, each write re-indexing the article's passages in the same transaction. */

import { decodeIdCursor, encodeIdCursor } from '../../chat/paging'
import { splitPassages } from '../../chat/passages'
import { queryTerms } from '../../chat/retrieval'
import { type Clock, isoUtc } from '../../clock'
import { kbArticleLock } from '../../db/lock-keys'
import type { KbArticleRow } from '../../db/rows'
import type { Store } from '../../db/store'
import { BadRequestError, NotFoundError } from '../../errors'
import type { CreateKbArticleInput, KbArticle, UpdateKbArticleInput } from './model'

function present(row: KbArticleRow): KbArticle {
  return {
    id: row.id,
    title: row.title,
    body: row.body,
    passages: splitPassages(row.body).length,
    created_utc: isoUtc(row.created_ms),
    updated_utc: isoUtc(row.updated_ms),
  }
}

function clean(value: string, param: string): string {
  const v = value.trim()
  if (!v) throw new BadRequestError(`${param} must not be blank`, param)
  return v
}

function notFound(id: number): NotFoundError {
  return new NotFoundError(`No knowledge-base article with id ${id}.`, 'id')
}

/** One page of the site's articles (oldest first), or the best matches for `q`. */
export async function listKbArticles(store: Store, siteId: number, q: { limit?: number; cursor?: string; q?: string }) {
  const limit = q.limit ?? 20
  if (q.q !== undefined) return { items: (await store.kb.searchArticles(siteId, queryTerms(q.q), limit)).map(present), has_more: false, next_cursor: null }
  const after = q.cursor ? decodeIdCursor(q.cursor) : 0
  const rows = await store.kb.page(siteId, after, limit + 1)
  const has_more = rows.length > limit
  const shown = has_more ? rows.slice(0, limit) : rows
  const last = shown.at(-1)
  return { items: shown.map(present), has_more, next_cursor: has_more && last ? encodeIdCursor(last.id) : null }
}

/** One article. */
export async function getKbArticle(store: Store, siteId: number, id: number): Promise<KbArticle> {
  const row = await store.kb.get(siteId, id)
  if (!row) throw notFound(id)
  return present(row)
}

/** Creates an article; the bot can answer from it at once. */
export async function createKbArticle(store: Store, clock: Clock, siteId: number, input: CreateKbArticleInput): Promise<KbArticle> {
  const title = clean(input.title, 'title')
  const body = clean(input.body, 'body')
  return present(await store.transaction((tx) => tx.kb.insert(siteId, title, body, splitPassages(body), clock.now())))
}

/** Changes an article's title or body. */
export async function updateKbArticle(store: Store, clock: Clock, siteId: number, id: number, input: UpdateKbArticleInput): Promise<KbArticle> {
  return present(
    // Read and rewrite under the article's lock, taken before the read: a concurrent change of the
    // other field waits for this one's commit and is merged into it, not undone.
    await store.transaction(async (tx) => {
      await tx.lock(kbArticleLock(siteId, id))
      const current = await tx.kb.get(siteId, id)
      if (!current) throw notFound(id)
      const title = input.title !== undefined ? clean(input.title, 'title') : current.title
      const body = input.body !== undefined ? clean(input.body, 'body') : current.body
      const row = await tx.kb.update(siteId, id, title, body, splitPassages(body), clock.now())
      if (!row) throw notFound(id)
      return row
    }),
  )
}

/** Deletes an article; the bot stops answering from it at once. */
export async function deleteKbArticle(store: Store, siteId: number, id: number): Promise<{ id: number; deleted: true }> {
  if (!(await store.transaction((tx) => tx.kb.remove(siteId, id)))) throw notFound(id)
  return { id, deleted: true }
}
