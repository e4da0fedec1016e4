/**
 * Splits a knowledge-base article into passages, the unit the bot retrieves and replies with:
 * paragraphs (blank-line separated), a heading kept with the paragraph after it, and paragraphs
 * longer than MAX_PASSAGE_CHARS cut at sentence ends so a reply stays chat-sized.
 */

/** Longest passage in characters (a sentence longer than this is cut at a word). */
export const MAX_PASSAGE_CHARS = 700

const HEADING = /^#{1,6}\s+\S|^[^.!?\n]{1,80}:$/

function sentences(paragraph: string): string[] {
  return paragraph.match(/[^.!?]+(?:[.!?]+(?=\s|$)|$)\s*/g)?.map((s) => s.trim()) ?? [paragraph]
}

function cutLong(sentence: string): string[] {
  const out: string[] = []
  let rest = sentence
  while (rest.length > MAX_PASSAGE_CHARS) {
    const at = rest.lastIndexOf(' ', MAX_PASSAGE_CHARS)
    const cut = at > MAX_PASSAGE_CHARS / 2 ? at : MAX_PASSAGE_CHARS
    out.push(rest.slice(0, cut).trim())
    rest = rest.slice(cut).trim()
  }
  if (rest) out.push(rest)
  return out
}

function splitParagraph(paragraph: string): string[] {
  if (paragraph.length <= MAX_PASSAGE_CHARS) return [paragraph]
  const out: string[] = []
  let current = ''
  for (const s of sentences(paragraph).flatMap(cutLong)) {
    if (current && current.length + 1 + s.length > MAX_PASSAGE_CHARS) {
      out.push(current)
      current = s
    } else current = current ? `${current} ${s}` : s
  }
  if (current) out.push(current)
  return out
}

/** The passages of an article body, in order. */
export function splitPassages(body: string): string[] {
  const paragraphs = body
    .replace(/\r\n?/g, '\n')
    .split(/\n\s*\n/)
    .map((p) => p.trim().replace(/[ \t]*\n[ \t]*/g, '\n'))
    .filter(Boolean)
  const merged: string[] = []
  let heading = ''
  for (const p of paragraphs) {
    if (HEADING.test(p) && !p.includes('\n')) {
      heading = heading ? `${heading}\n${p}` : p
      continue
    }
    merged.push(heading ? `${heading}\n${p}` : p)
    heading = ''
  }
  if (heading) merged.push(heading)
  return merged.flatMap(splitParagraph)
}
