/**
 * The bot provider interface. The chat engine retrieves knowledge-base passages itself and hands
 * them to the provider with the conversation; the provider answers, or says it is not confident.
 * A provider that throws (timeout, HTTP error, bad response) makes the engine hand the chat to a
 * human with reason `bot_error`: the visitor never sees a failure.
 */
import type { Retrieval } from '../retrieval'

/** One earlier message of the conversation, as the provider sees it. */
export interface BotTurn {
  role: 'visitor' | 'ai' | 'agent' | 'system'
  text: string
}

export interface BotRequest {
  siteName: string
  /** The visitor's new message. */
  question: string
  /** Earlier messages, oldest first (without `question`). */
  history: BotTurn[]
  retrieval: Retrieval
  /** The site's confidence threshold (0..1), for providers that score retrieval themselves. */
  minConfidence: number
}

/** Tokens a provider call used: what it read and what it wrote. */
export interface BotTokens {
  input: number
  output: number
}

/** A reply to show the visitor, or a handoff for lack of confidence (with what to tell them). */
export interface BotAnswer {
  kind: 'reply' | 'handoff'
  text: string
  tokens: BotTokens
}

export interface BotSummary {
  summary: string
  tokens: BotTokens
}

export interface BotProvider {
  readonly name: 'kb' | 'openai'
  /** Answers the visitor's message. */
  answer(request: BotRequest): Promise<BotAnswer>
  /** Summarises a conversation for the agent who takes it over. */
  summarize(history: BotTurn[], reason: string): Promise<BotSummary>
}

/** What the visitor is told when the bot hands the chat over. */
export const HANDOFF_NOTICE: Record<string, string> = {
  visitor_requested: 'Sure, I am getting a human agent for you. They will reply here shortly.',
  low_confidence: 'I am not sure I can answer that well, so I am fetching a human agent for you. They will reply here shortly.',
  bot_error: 'I cannot answer right now, so I am fetching a human agent for you. They will reply here shortly.',
  max_turns: 'Let me bring in a human agent to help further. They will reply here shortly.',
}
