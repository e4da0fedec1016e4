/** Transcripts: a whole chat session with every message. */
import type { ChatContext } from '../../chat/context'
import { presentMessage, visitorRef } from '../../chat/present'
import { siteSession } from '../../chat/sessions'
import { isoUtc } from '../../clock'
import type { ChatMessageRow } from '../../db/rows'
import { BadRequestError } from '../../errors'
import type { Transcript } from './model'

/** Messages read per query while assembling a transcript. */
const BATCH = 1000

/** The transcript of the site's session `id` (404 for unknown ids and other sites' sessions). */
export async function getTranscript(ctx: ChatContext, siteId: number, id: string | undefined, param = 'sessionId'): Promise<Transcript> {
  if (!id) throw new BadRequestError('sessionId is required: /v1/transcripts?sessionId=cs_...', 'sessionId')
  const s = await siteSession(ctx, siteId, id, param)
  const rows: ChatMessageRow[] = []
  for (let after = 0; ; ) {
    const batch = await ctx.store.chat.messagesAfter(s.seq, after, BATCH)
    rows.push(...batch)
    if (batch.length < BATCH) break
    after = batch[batch.length - 1]?.id ?? after
  }
  const handoff = await ctx.store.chat.handoffBySession(s.seq)
  const feedback = await ctx.store.chat.feedbackBySession(s.seq)
  return {
    session_id: s.id,
    visitor: visitorRef(s),
    status: s.status,
    started_utc: isoUtc(s.started_ms),
    ended_utc: s.ended_ms === null ? null : isoUtc(s.ended_ms),
    handoff_reason: s.handoff_reason as Transcript['handoff_reason'],
    summary: handoff?.summary ?? null,
    rating: feedback?.rating ?? null,
    messages: rows.map((r) => presentMessage(r, s.id)),
  }
}
