/**
 * Knowledge-base retrieval shared by both bot providers: the visitor's question becomes a set of
 * content words, FTS5 ranks the site's passages by BM25, and the best passage gets a confidence:
 * the share of the question's content words it contains (matched with the index's own stemming,
 * so "passwords" finds "password"; a word found only in the article's title counts half). BM25 orders; coverage decides, because a BM25 score has no
 * fixed scale across sites and cannot be compared with a threshold.
 */
import type { Repositories } from '../db/store'

/** Words that carry no topic; a question made only of them has no content to look up. */
const STOPWORDS = new Set(
  (
    'a about above after again all am an and any are as at be because been before being below between both but by can could did do does ' +
    'doing down during each few for from further get got had has have having he her here hers him his how i if in into is it its itself ' +
    'just let me more most my myself need no nor not now of off on once only or other our ours out over own please same she should so ' +
    'some such than thank thanks that the their theirs them then there these they this those through to too under until up us very want ' +
    'was we were what when where which while who whom why will with would you your yours yourself hi hello hey ok okay yes'
  ).split(' '),
)

/** Most distinct content words a query uses (longer questions keep their first ones). */
export const MAX_QUERY_TERMS = 24

/** A retrieved passage with the share of question words it covers. */
export interface Passage {
  articleId: number
  title: string
  text: string
  /** BM25 from FTS5 (lower is better). */
  score: number
  /** Share (0..1) of the question's content words the passage contains. */
  coverage: number
}

export interface Retrieval {
  /** Content words of the question. */
  terms: string[]
  /** Best passages first. */
  passages: Passage[]
  /** The best passage's coverage; 0 when nothing matched. */
  confidence: number
}

/** The distinct lower-case content words of `text`, in order of appearance. */
export function queryTerms(text: string): string[] {
  const seen = new Set<string>()
  for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu)) {
    const word = m[0].replace(/['’].*$/, '')
    if (word.length < 2 && !/\p{N}/u.test(word)) continue
    if (STOPWORDS.has(word)) continue
    seen.add(word)
    if (seen.size >= MAX_QUERY_TERMS) break
  }
  return [...seen]
}

/** Candidates BM25 proposes before coverage re-ranks them. */
const CANDIDATES = 8

/** Coverage of `terms` by a passage: a word in its text counts 1, a word only in its article's title 1/2. */
function coverageOf(found: { inText: string[]; inTitle: string[] }, terms: string[]): number {
  return terms.length === 0 ? 0 : (found.inText.length + found.inTitle.length / 2) / terms.length
}

/**
 * The site's best `limit` passages for `question`: BM25 proposes candidates, then the ones that
 * cover most of the question come first (BM25 order breaks ties).
 */
export async function retrieve(store: Pick<Repositories, 'kb'>, siteId: number, question: string, limit = 3): Promise<Retrieval> {
  const terms = queryTerms(question)
  const hits = await store.kb.search(siteId, terms, Math.max(limit, CANDIDATES))
  // One passage at a time, in rank order: at most CANDIDATES small reads, none of them concurrent.
  const ranked: { rank: number; passage: Passage }[] = []
  for (const [rank, h] of hits.entries()) {
    const found = await store.kb.termsIn(h.rowid, terms)
    ranked.push({ rank, passage: { articleId: h.article_id, title: h.title, text: h.text, score: h.score, coverage: coverageOf(found, terms) } })
  }
  const passages = ranked
    .sort((a, b) => b.passage.coverage - a.passage.coverage || a.rank - b.rank)
    .slice(0, limit)
    .map((x) => x.passage)
  return { terms, passages, confidence: passages[0]?.coverage ?? 0 }
}
