/**
 * Chat sessions, messages, handoffs, feedback, per-site chat settings and usage sums on
 * PostgreSQL: the SQLite repo's rows and answers. Status changes stay single statements guarded
 * in their WHERE clause (`... AND status = 'bot'`), so of two racing requests exactly one wins on
 * PostgreSQL too: the loser's UPDATE re-reads the row after the winner commits and matches nothing.
 */
import type { SQL } from 'bun'
import type { AsyncRepo } from '../async-repo'
import type { ChatMessageRow, ChatRepo, ChatSessionRow, ChatSessionView, ChatSettingsRow, FeedbackRow, FeedbackView, HandoffRow, HandoffView } from '../rows'
import { atomically } from './atomic'
import { sqliteLimit } from './limit'
import { allRows, bigintColumns, firstOrNull } from './rows'

const SESSION_TIMES = ['seq', 'site_id', 'started_ms', 'last_activity_ms', 'ended_ms']
const session = bigintColumns<ChatSessionRow>(...SESSION_TIMES)
const sessionView = bigintColumns<ChatSessionView>(...SESSION_TIMES)
const message = bigintColumns<ChatMessageRow>('id', 'session_seq', 'site_id', 'created_ms')
const handoff = bigintColumns<HandoffRow>('id', 'site_id', 'session_seq', 'created_ms')
const handoffView = bigintColumns<HandoffView>('id', 'site_id', 'session_seq', 'created_ms')
const feedback = bigintColumns<FeedbackRow>('id', 'site_id', 'session_seq', 'created_ms')
const feedbackView = bigintColumns<FeedbackView>('id', 'site_id', 'session_seq', 'created_ms')
const settings = bigintColumns<ChatSettingsRow>('site_id', 'updated_ms')

/** Statements over the chat tables. */
export function createPostgresChatRepo(sql: SQL): AsyncRepo<ChatRepo> {
  // The SQLite repo's views, as fragments: the same columns in the same order.
  const SESSION_VIEW = sql`SELECT s.*, v.name AS visitor_name, v.email AS visitor_email
    FROM chat_sessions s LEFT JOIN visitors v ON v.site_id = s.site_id AND v.key = s.visitor_key`
  const HANDOFF_VIEW = sql`SELECT h.*, s.id AS session_id, s.visitor_key, v.name AS visitor_name, v.email AS visitor_email
    FROM handoffs h JOIN chat_sessions s ON s.seq = h.session_seq
    LEFT JOIN visitors v ON v.site_id = s.site_id AND v.key = s.visitor_key`
  const FEEDBACK_VIEW = sql`SELECT f.*, s.id AS session_id, s.visitor_key, v.name AS visitor_name, v.email AS visitor_email
    FROM feedback f JOIN chat_sessions s ON s.seq = f.session_seq
    LEFT JOIN visitors v ON v.site_id = s.site_id AND v.key = s.visitor_key`

  return {
    insertSession: async (id, siteId, visitorKey, anonId, nowMs) =>
      session(
        (
          await sql`INSERT INTO chat_sessions (id, site_id, visitor_key, anon_id, status, started_ms, last_activity_ms)
                    VALUES (${id}, ${siteId}, ${visitorKey}, ${anonId}, 'bot', ${nowMs}, ${nowMs}) RETURNING *`
        )[0],
      ),
    sessionById: async (id) => firstOrNull(await sql`SELECT * FROM chat_sessions WHERE id = ${id}`, session),
    sessionBySeq: async (seq) => firstOrNull(await sql`SELECT * FROM chat_sessions WHERE seq = ${seq}`, session),
    sessionView: async (siteId, id) => firstOrNull(await sql`${SESSION_VIEW} WHERE s.site_id = ${siteId} AND s.id = ${id}`, sessionView),
    sessionViewBySeq: async (seq) => firstOrNull(await sql`${SESSION_VIEW} WHERE s.seq = ${seq}`, sessionView),
    // Each filter is a fragment present only when set, so each combination gets a plan that uses its index.
    listSessions: async (siteId, status, beforeSeq, limit) => {
      const byStatus = status !== null ? sql`AND s.status = ${status}` : sql``
      const before = beforeSeq !== null ? sql`AND s.seq < ${beforeSeq}` : sql``
      return allRows(await sql`${SESSION_VIEW} WHERE s.site_id = ${siteId} ${byStatus} ${before} ORDER BY s.seq DESC LIMIT ${sqliteLimit(limit)}`, sessionView)
    },
    // bun:sqlite's run() answers { changes, lastInsertRowid }. The rowid is the connection's last
    // INSERT, whatever and whenever it was (nothing this UPDATE wrote): no caller reads it, and
    // PostgreSQL has no such thing, so it is 0 here.
    touch: async (seq, nowMs) => {
      const r = await sql`UPDATE chat_sessions SET last_activity_ms = GREATEST(last_activity_ms, ${nowMs}::bigint) WHERE seq = ${seq}`
      return { changes: r.count as number, lastInsertRowid: 0 }
    },
    countBotReply: async (seq, nowMs) =>
      firstOrNull(
        await sql`UPDATE chat_sessions SET bot_replies = bot_replies + 1, last_activity_ms = GREATEST(last_activity_ms, ${nowMs}::bigint)
                  WHERE seq = ${seq} AND status = 'bot' RETURNING *`,
        session,
      ),
    toWaitingHuman: async (seq, reason, nowMs) =>
      firstOrNull(
        await sql`UPDATE chat_sessions SET status = 'waiting_human', handoff_reason = ${reason}, last_activity_ms = GREATEST(last_activity_ms, ${nowMs}::bigint)
                  WHERE seq = ${seq} AND status = 'bot' RETURNING *`,
        session,
      ),
    toHuman: async (seq, nowMs) =>
      firstOrNull(
        await sql`UPDATE chat_sessions SET status = 'human', last_activity_ms = GREATEST(last_activity_ms, ${nowMs}::bigint)
                  WHERE seq = ${seq} AND status IN ('bot', 'waiting_human') RETURNING *`,
        session,
      ),
    close: async (seq, closedBy, nowMs) =>
      firstOrNull(
        await sql`UPDATE chat_sessions SET status = 'closed', closed_by = ${closedBy}, ended_ms = ${nowMs}, last_activity_ms = GREATEST(last_activity_ms, ${nowMs}::bigint)
                  WHERE seq = ${seq} AND status <> 'closed' RETURNING *`,
        session,
      ),
    // SQLite reads one status after the other from its (status, last_activity_ms) index (the IN
    // list in text order) and sorts on the time alone, keeping that order among equal times.
    inactive: async (cutoffMs, limit) =>
      allRows(
        await sql`SELECT * FROM chat_sessions WHERE status IN ('bot', 'waiting_human', 'human') AND last_activity_ms < ${cutoffMs}
                  ORDER BY last_activity_ms, status COLLATE "C", seq LIMIT ${sqliteLimit(limit)}`,
        session,
      ),

    insertMessage: async (seq, siteId, role, text, author, tokens, nowMs) =>
      message(
        (
          await sql`INSERT INTO chat_messages (session_seq, site_id, role, text, author, tokens, created_ms)
                    VALUES (${seq}, ${siteId}, ${role}, ${text}, ${author}, ${tokens}, ${nowMs}) RETURNING *`
        )[0],
      ),
    messagesAfter: async (seq, afterId, limit) =>
      allRows(await sql`SELECT * FROM chat_messages WHERE session_seq = ${seq} AND id > ${afterId} ORDER BY id LIMIT ${sqliteLimit(limit)}`, message),
    recentMessages: async (seq, limit) =>
      allRows(await sql`SELECT * FROM chat_messages WHERE session_seq = ${seq} ORDER BY id DESC LIMIT ${sqliteLimit(limit)}`, message).reverse(),

    insertHandoff: async (siteId, seq, reason, summary, summaryTokens, nowMs) =>
      handoff(
        (
          await sql`INSERT INTO handoffs (site_id, session_seq, reason, summary, summary_tokens, created_ms)
                    VALUES (${siteId}, ${seq}, ${reason}, ${summary}, ${summaryTokens}, ${nowMs}) RETURNING *`
        )[0],
      ),
    handoffBySession: async (seq) => firstOrNull(await sql`${HANDOFF_VIEW} WHERE h.session_seq = ${seq}`, handoffView),
    listHandoffs: async (siteId, sinceMs, beforeId, limit) => {
      const since = sinceMs !== null ? sql`AND h.created_ms >= ${sinceMs}` : sql``
      const before = beforeId !== null ? sql`AND h.id < ${beforeId}` : sql``
      return allRows(await sql`${HANDOFF_VIEW} WHERE h.site_id = ${siteId} ${since} ${before} ORDER BY h.id DESC LIMIT ${sqliteLimit(limit)}`, handoffView)
    },

    // A second feedback for a session is a unique violation (feedback_session_seq_key), as on SQLite.
    insertFeedback: async (siteId, seq, rating, comment, nowMs) =>
      feedback(
        (
          await sql`INSERT INTO feedback (site_id, session_seq, rating, comment, created_ms)
                    VALUES (${siteId}, ${seq}, ${rating}, ${comment}, ${nowMs}) RETURNING *`
        )[0],
      ),
    feedbackBySession: async (seq) => firstOrNull(await sql`${FEEDBACK_VIEW} WHERE f.session_seq = ${seq}`, feedbackView),
    listFeedback: async (siteId, f) => {
      const since = f.sinceMs !== null ? sql`AND f.created_ms >= ${f.sinceMs}` : sql``
      const rating = f.rating !== null ? sql`AND f.rating = ${f.rating}` : sql``
      const before = f.beforeId !== null ? sql`AND f.id < ${f.beforeId}` : sql``
      return allRows(
        await sql`${FEEDBACK_VIEW} WHERE f.site_id = ${siteId} ${since} ${rating} ${before} ORDER BY f.id DESC LIMIT ${sqliteLimit(f.limit)}`,
        feedbackView,
      )
    },

    settings: async (siteId) => firstOrNull(await sql`SELECT * FROM chat_settings WHERE site_id = ${siteId}`, settings),
    saveSettings: async (siteId, maxBotReplies, minConfidence, nowMs) =>
      settings(
        (
          await sql`INSERT INTO chat_settings (site_id, max_bot_replies, min_confidence, updated_ms)
                    VALUES (${siteId}, ${maxBotReplies}, ${minConfidence}, ${nowMs})
                    ON CONFLICT (site_id) DO UPDATE SET max_bot_replies = EXCLUDED.max_bot_replies,
                      min_confidence = EXCLUDED.min_confidence, updated_ms = EXCLUDED.updated_ms
                    RETURNING *`
        )[0],
      ),

    // Four statements as one unit (SQLite relies on its caller's transaction): a transaction of its
    // own on the pool, a savepoint inside the caller's.
    eraseVisitor: async (siteId, visitorKey) =>
      atomically(sql, async (tx) => {
        const seqs = (
          await tx`UPDATE chat_sessions SET visitor_key = NULL, anon_id = NULL WHERE site_id = ${siteId} AND visitor_key = ${visitorKey} RETURNING seq`
        ).map((r: { seq: string | number }) => Number(r.seq))
        if (seqs.length === 0) return 0
        await tx`UPDATE chat_messages SET text = '', author = NULL WHERE session_seq = ANY(${seqs}::bigint[])`
        await tx`UPDATE handoffs SET summary = '' WHERE session_seq = ANY(${seqs}::bigint[])`
        await tx`UPDATE feedback SET comment = NULL WHERE session_seq = ANY(${seqs}::bigint[])`
        return seqs.length
      }),

    usage: async (siteId, fromMs, toMs) => {
      // SUM over BIGINT/INTEGER answers NUMERIC/BIGINT, which Bun.sql returns as strings.
      const [m] = await sql`SELECT SUM(CASE WHEN role = 'ai' THEN 1 ELSE 0 END) AS ai_replies, SUM(tokens) AS tokens
                            FROM chat_messages WHERE site_id = ${siteId} AND created_ms >= ${fromMs} AND created_ms < ${toMs}`
      const [s] = await sql`SELECT SUM(summary_tokens) AS tokens FROM handoffs WHERE site_id = ${siteId} AND created_ms >= ${fromMs} AND created_ms < ${toMs}`
      const n = (v: unknown) => (v === null || v === undefined ? 0 : Number(v))
      return { aiReplies: n(m?.ai_replies), tokens: n(m?.tokens) + n(s?.tokens) }
    },
  }
}
