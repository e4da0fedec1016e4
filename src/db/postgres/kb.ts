/**
 * Knowledge-base articles and their passage index on PostgreSQL: the same rows and answers as the
 * SQLite repo, with PostgreSQL's full-text search (the `tsv` column, GIN) in place of FTS5.
 *
 * Ranking is FTS5's BM25 written in SQL, so both engines propose the same candidates in the same
 * order: per query word, IDF = ln((N - n + 0.5) / (n + 0.5)) (1e-6 when not positive), and
 * score = -sum(IDF * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgD))) with k1 = 1.2, b = 0.75,
 * f = 2 * (hits in the title) + (hits in the text) (bm25(kb_passages, 2.0, 1.0)), D the passage's
 * word count (`tokens`, counted as FTS5 counts) and avgD their mean. ts_rank would not do: it has
 * no IDF, so a word found in every article would rank as high as the one word that names the
 * subject. One difference by design: N, n and avgD are the site's own (FTS5's span every site in
 * the file), which keeps one tenant's articles out of another's ranking and keeps the statistics
 * to an index range rather than a count over the whole table.
 *
 * Retrieval's confidence does not read this score (src/chat/retrieval.ts: coverage of the question
 * by the passage, via `termsIn`); the score only orders candidates, lower is better, as bm25().
 */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { KbArticleRow, KbHit, KbRepo } from '../rows'
import { sqliteLimit } from './limit'
import { allRows, bigintColumns, firstOrNull } from './rows'

const article = bigintColumns<KbArticleRow>('id', 'site_id', 'created_ms', 'updated_ms')
const hit = bigintColumns<KbHit>('rowid', 'article_id')

/**
 * Words as FTS5's unicode61 tokenizer counts them: runs of letters, digits, marks and private-use
 * characters (FTS5's tables are Unicode 6.1: it also joins symbols assigned later, such as newer
 * emoji, to words; a length off by one there moves a score by a hair).
 */
const WORD = /[\p{L}\p{N}\p{M}\p{Co}]+/gu

/** How many words FTS5 indexes for a passage (its title and text), BM25's document length. */
export function passageTokens(title: string, text: string): number {
  return (title.match(WORD)?.length ?? 0) + (text.match(WORD)?.length ?? 0)
}

/** Statements over `kb_articles` and `kb_passages`. */
export function createPostgresKbRepo(sql: SQL): AsyncRepo<KbRepo> {
  /** The passages' rows to insert after an article's row `a` (in a data-modifying WITH). */
  const passageArrays = (title: string, passages: string[]) => ({
    texts: sql.array(passages, 'TEXT'),
    tokens: sql.array(
      passages.map((p) => passageTokens(title, p)),
      'INT',
    ),
  })

  const search = async (siteId: number, terms: string[], limit: number): Promise<KbHit[]> => {
    if (terms.length === 0) return []
    // Each term is a phrase of its words (one word, as retrieval sends them), split and stemmed
    // as the index is; terms that leave no word (FTS5 matches nothing for them) are dropped.
    return allRows(
      await sql`
        WITH q AS (
          SELECT u.ord, phraseto_tsquery('kb_english', kb_words(u.term)) AS tq,
                 tsvector_to_array(to_tsvector('kb_english', kb_words(u.term))) AS lexemes
          FROM unnest(${sql.array(terms, 'TEXT')}) WITH ORDINALITY AS u(term, ord)
        ), words AS MATERIALIZED (
          SELECT * FROM q WHERE numnode(tq) > 0
        ), site AS MATERIALIZED (
          SELECT count(*)::float8 AS n, coalesce(avg(tokens), 0)::float8 AS avgdl FROM kb_passages WHERE site_id = ${siteId}
        ), idf AS MATERIALIZED (
          SELECT w.ord, w.lexemes, CASE WHEN v.x > 0 THEN v.x ELSE 1e-6 END AS idf
          FROM words w, site s,
               LATERAL (SELECT count(*)::float8 AS hits FROM kb_passages p WHERE p.site_id = ${siteId} AND p.tsv @@ w.tq) m,
               LATERAL (SELECT ln((s.n - m.hits + 0.5) / (m.hits + 0.5)) AS x) v
        ), candidates AS MATERIALIZED (
          SELECT p.id, p.article_id, p.title, p.text, p.tokens, p.tsv FROM kb_passages p
          WHERE p.site_id = ${siteId}
            AND p.tsv @@ (SELECT string_agg('(' || tq::text || ')', ' | ')::tsquery FROM words)
        ), hits AS MATERIALIZED (
          -- Each candidate's tsvector is read once: the query's words in it, a title hit counting 2.
          SELECT c.id, l.lexeme, sum(CASE wt WHEN 'A' THEN 2.0::float8 ELSE 1.0::float8 END) AS hits
          FROM candidates c, unnest(c.tsv) AS l(lexeme, positions, weights), unnest(l.weights) AS wt
          WHERE l.lexeme = ANY (ARRAY(SELECT x FROM words, unnest(words.lexemes) AS x))
          GROUP BY c.id, l.lexeme
        ), freq AS (
          -- A term's hits in a passage: its word's (a rare split term: the fewest of its words', none unless all occur).
          SELECT c.id, i.idf, c.tokens,
                 CASE WHEN count(h.hits) = cardinality(i.lexemes) THEN min(h.hits) ELSE 0 END AS f
          FROM candidates c CROSS JOIN idf i CROSS JOIN LATERAL unnest(i.lexemes) AS il(lexeme)
          LEFT JOIN hits h ON h.id = c.id AND h.lexeme = il.lexeme
          GROUP BY c.id, c.tokens, i.ord, i.idf, i.lexemes
        ), scores AS (
          SELECT f.id, sum(f.idf * f.f * 2.2 / (f.f + 1.2 * (0.25 + 0.75 * f.tokens / s.avgdl))) AS bm25
          FROM freq f, site s GROUP BY f.id
        )
        SELECT c.id AS rowid, c.article_id, c.title, c.text, -coalesce(sc.bm25, 0) AS score
        FROM candidates c LEFT JOIN scores sc ON sc.id = c.id
        ORDER BY score, c.id
        LIMIT ${sqliteLimit(limit)}`,
      hit,
    )
  }

  return {
    page: async (siteId, afterId, limit) =>
      allRows(await sql`SELECT * FROM kb_articles WHERE site_id = ${siteId} AND id > ${afterId} ORDER BY id LIMIT ${sqliteLimit(limit)}`, article),
    get: async (siteId, id) => firstOrNull(await sql`SELECT * FROM kb_articles WHERE site_id = ${siteId} AND id = ${id}`, article),
    // One statement writes the article and its passages, so it is atomic even outside a transaction.
    insert: async (siteId, title, body, passages, nowMs) => {
      const p = passageArrays(title, passages)
      return article(
        (
          await sql`
            WITH a AS (
              INSERT INTO kb_articles (site_id, title, body, created_ms, updated_ms)
              VALUES (${siteId}, ${title}, ${body}, ${nowMs}, ${nowMs}) RETURNING *
            ), passages AS (
              INSERT INTO kb_passages (site_id, article_id, position, title, text, tokens)
              SELECT ${siteId}, a.id, u.ord - 1, ${title}, u.text, u.tokens
              FROM a, unnest(${p.texts}, ${p.tokens}) WITH ORDINALITY AS u(text, tokens, ord)
            )
            SELECT * FROM a`
        )[0],
      )
    },
    // The old passages go and the new ones come in the same statement (it sees the passages as
    // they were before it, so the delete cannot touch the rows it inserts).
    update: async (siteId, id, title, body, passages, nowMs) => {
      const p = passageArrays(title, passages)
      return firstOrNull(
        await sql`
          WITH a AS (
            UPDATE kb_articles SET title = ${title}, body = ${body}, updated_ms = ${nowMs}
            WHERE site_id = ${siteId} AND id = ${id} RETURNING *
          ), gone AS (
            DELETE FROM kb_passages WHERE article_id IN (SELECT a.id FROM a)
          ), passages AS (
            INSERT INTO kb_passages (site_id, article_id, position, title, text, tokens)
            SELECT ${siteId}, a.id, u.ord - 1, ${title}, u.text, u.tokens
            FROM a, unnest(${p.texts}, ${p.tokens}) WITH ORDINALITY AS u(text, tokens, ord)
          )
          SELECT * FROM a`,
        article,
      )
    },
    // The passages go with the article (ON DELETE CASCADE).
    remove: async (siteId, id) => (await sql`DELETE FROM kb_articles WHERE site_id = ${siteId} AND id = ${id} RETURNING id`).length > 0,
    search,
    searchArticles: async (siteId, terms, limit) => {
      if (terms.length === 0) return []
      const ids = [...new Set((await search(siteId, terms, limit * 8)).map((h) => h.article_id))].slice(0, limit)
      if (ids.length === 0) return []
      const rows = allRows(await sql`SELECT * FROM kb_articles WHERE site_id = ${siteId} AND id = ANY(${sql.array(ids, 'BIGINT')})`, article)
      const byId = new Map(rows.map((r) => [r.id, r]))
      return ids.map((id) => byId.get(id)).filter((r): r is KbArticleRow => r !== undefined)
    },
    termsIn: async (rowid, terms) => {
      if (terms.length === 0) return { inText: [], inTitle: [] }
      // The title's words carry weight A and the text's weight B (see the tsv column).
      const rows: { ord: string; in_text: boolean; in_title: boolean }[] = await sql`
        SELECT u.ord, numnode(q.tq) > 0 AND ts_filter(p.tsv, '{b}') @@ q.tq AS in_text,
               numnode(q.tq) > 0 AND ts_filter(p.tsv, '{a}') @@ q.tq AS in_title
        FROM kb_passages p,
             unnest(${sql.array(terms, 'TEXT')}) WITH ORDINALITY AS u(term, ord),
             LATERAL (SELECT phraseto_tsquery('kb_english', kb_words(u.term)) AS tq) q
        WHERE p.id = ${rowid}`
      const text = new Set<number>()
      const title = new Set<number>()
      for (const r of rows) {
        if (r.in_text) text.add(Number(r.ord) - 1)
        if (r.in_title) title.add(Number(r.ord) - 1)
      }
      const inText = terms.filter((_, i) => text.has(i))
      const inTitle = terms.filter((term, i) => !inText.includes(term) && title.has(i))
      return { inText, inTitle }
    },
  }
}
