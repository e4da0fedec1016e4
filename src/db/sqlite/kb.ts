/**
 * Knowledge-base articles of a site and their passage index (SQLite FTS5, BM25 ranking). The
 * FTS5 statements are kept here, away from everything else, because they are the part a
 * PostgreSQL store would write differently (tsvector + ts_rank).
 */
import type { Database } from 'bun:sqlite'

export interface KbArticleRow {
  id: number
  site_id: number
  title: string
  body: string
  created_ms: number
  updated_ms: number
}

/** One retrieved passage, best first. `score` is FTS5's bm25(): lower (more negative) is better. */
export interface KbHit {
  rowid: number
  article_id: number
  title: string
  text: string
  score: number
}

/** Quotes one term as an FTS5 string, so user text can never be read as query syntax. */
export function ftsQuote(term: string): string {
  return `"${term.replaceAll('"', '""')}"`
}

/** Prepared statements over `kb_articles` and `kb_passages`. */
export function createKbRepo(db: Database) {
  const page = db.query<KbArticleRow, [number, number, number]>('SELECT * FROM kb_articles WHERE site_id = ? AND id > ? ORDER BY id LIMIT ?')
  const get = db.query<KbArticleRow, [number, number]>('SELECT * FROM kb_articles WHERE site_id = ? AND id = ?')
  const insert = db.query<KbArticleRow, [number, string, string, number, number]>(
    'INSERT INTO kb_articles (site_id, title, body, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?) RETURNING *',
  )
  const update = db.query<KbArticleRow, [string, string, number, number, number]>(
    'UPDATE kb_articles SET title = ?, body = ?, updated_ms = ? WHERE site_id = ? AND id = ? RETURNING *',
  )
  const remove = db.query<{ id: number }, [number, number]>('DELETE FROM kb_articles WHERE site_id = ? AND id = ? RETURNING id')
  const insertPassage = db.query<null, [string, string, number, number, number]>(
    'INSERT INTO kb_passages (title, text, site_id, article_id, position) VALUES (?, ?, ?, ?, ?)',
  )
  const removePassages = db.query<null, [number]>('DELETE FROM kb_passages WHERE article_id = ?')
  // Title matches weigh twice the body's: a question naming an article's subject should find it.
  const search = db.query<KbHit, [string, number, number]>(
    `SELECT rowid, article_id, title, text, bm25(kb_passages, 2.0, 1.0) AS score
     FROM kb_passages WHERE kb_passages MATCH ? AND site_id = ?
     ORDER BY score LIMIT ?`,
  )
  const passageMatches = db.query<{ n: number }, [string, number]>('SELECT COUNT(*) AS n FROM kb_passages WHERE kb_passages MATCH ? AND rowid = ?')
  const matches = (column: 'text' | 'title', term: string, rowid: number) => (passageMatches.get(`${column} : ${ftsQuote(term)}`, rowid)?.n ?? 0) > 0

  const index = (siteId: number, articleId: number, title: string, passages: string[]) => {
    removePassages.run(articleId)
    passages.forEach((text, position) => {
      insertPassage.run(title, text, siteId, articleId, position)
    })
  }

  return {
    /** One page of a site's articles by id, after `afterId`. */
    page: (siteId: number, afterId: number, limit: number) => page.all(siteId, afterId, limit),
    /** One article of a site, or null. */
    get: (siteId: number, id: number) => get.get(siteId, id),
    /** Inserts an article with its passages (call inside a transaction). */
    insert: (siteId: number, title: string, body: string, passages: string[], nowMs: number) => {
      const row = insert.get(siteId, title, body, nowMs, nowMs) as KbArticleRow
      index(siteId, row.id, title, passages)
      return row
    },
    /** Replaces an article and its passages (call inside a transaction); null if not the site's. */
    update: (siteId: number, id: number, title: string, body: string, passages: string[], nowMs: number) => {
      const row = update.get(title, body, nowMs, siteId, id)
      if (row) index(siteId, id, title, passages)
      return row
    },
    /** Deletes an article and its passages; false if not the site's. */
    remove: (siteId: number, id: number) => {
      const gone = remove.get(siteId, id) !== null
      if (gone) removePassages.run(id)
      return gone
    },
    /** The site's best passages for any of `terms` (already normalised words), best first. */
    search: (siteId: number, terms: string[], limit: number): KbHit[] => {
      if (terms.length === 0) return []
      return search.all(terms.map(ftsQuote).join(' OR '), siteId, limit)
    },
    /** The site's articles matching any of `terms`, best first (by their best passage). */
    searchArticles: (siteId: number, terms: string[], limit: number): KbArticleRow[] => {
      if (terms.length === 0) return []
      const ids = [...new Set(search.all(terms.map(ftsQuote).join(' OR '), siteId, limit * 8).map((h) => h.article_id))].slice(0, limit)
      return ids.map((id) => get.get(siteId, id)).filter((r): r is KbArticleRow => r !== null)
    },
    /** Which of `terms` occur in the passage `rowid`'s text, and which only in its article's title (stemmed like the index). */
    termsIn: (rowid: number, terms: string[]) => {
      const inText = terms.filter((term) => matches('text', term, rowid))
      const inTitle = terms.filter((term) => !inText.includes(term) && matches('title', term, rowid))
      return { inText, inTitle }
    },
  }
}
export type KbRepo = ReturnType<typeof createKbRepo>
