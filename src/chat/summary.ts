/**
 * Extractive handoff summary: the visitor's most representative sentences, picked by how many of
 * the conversation's recurring content words they carry. Used by the `kb` provider, and by any
 * provider whose own summary failed, so a handoff always has one.
 */
import type { BotTurn } from './bot/provider'
import { queryTerms } from './retrieval'

/** Longest summary in characters. */
export const MAX_SUMMARY_CHARS = 400

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1).trimEnd()}…`
}

/** A short summary of `history` for the agent taking over. */
export function extractiveSummary(history: BotTurn[]): string {
  const visitorTurns = history.filter((m) => m.role === 'visitor')
  const botReplies = history.filter((m) => m.role === 'ai').length
  if (visitorTurns.length === 0) return 'The visitor asked for a human before writing a message.'
  const freq = new Map<string, number>()
  for (const m of visitorTurns) for (const term of queryTerms(m.text)) freq.set(term, (freq.get(term) ?? 0) + 1)
  const sentences = visitorTurns.flatMap((m) => (m.text.match(/[^.!?\n]+[.!?]*/g) ?? [m.text]).map((s) => s.trim()).filter((s) => queryTerms(s).length > 0))
  const picked = sentences
    .map((text, index) => ({ text, index, score: queryTerms(text).reduce((sum, term) => sum + (freq.get(term) ?? 0), 0) }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, 2)
    .sort((a, b) => a.index - b.index)
    .map((s) => `"${clip(s.text, 160)}"`)
  const asked = picked.length > 0 ? `The visitor asked: ${picked.join(' and ')}` : `The visitor wrote: "${clip(visitorTurns[0]?.text ?? '', 160)}"`
  const tail = botReplies > 0 ? ` (${botReplies} bot ${botReplies === 1 ? 'reply' : 'replies'} before the handoff).` : '.'
  return clip(`${asked}${tail}`, MAX_SUMMARY_CHARS)
}
