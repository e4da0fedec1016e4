/**
 * Chat sessions, their messages, handoffs, feedback, per-site chat settings and usage sums.
 * Every read an API caller can reach is scoped by site id; the widget looks sessions up by their
 * unguessable public id and then checks the site and the visitor itself.
 */
import type { Database } from 'bun:sqlite'

export type SessionStatus = 'bot' | 'waiting_human' | 'human' | 'closed'
export type MessageRole = 'visitor' | 'ai' | 'agent' | 'system'

export interface ChatSessionRow {
  seq: number
  id: string
  site_id: number
  /** The visitor's key: the identified key, else the anonymous id. */
  visitor_key: string | null
  /** The anonymous id the session was opened with; when set it is the visitor's credential. */
  anon_id: string | null
  status: SessionStatus
  bot_replies: number
  handoff_reason: string | null
  closed_by: string | null
  started_ms: number
  last_activity_ms: number
  ended_ms: number | null
}

/** A session with its visitor's profile fields (null when the visitor is unknown or erased). */
export interface ChatSessionView extends ChatSessionRow {
  visitor_name: string | null
  visitor_email: string | null
}

export interface ChatMessageRow {
  id: number
  session_seq: number
  site_id: number
  role: MessageRole
  text: string
  author: string | null
  tokens: number | null
  created_ms: number
}

export interface HandoffRow {
  id: number
  site_id: number
  session_seq: number
  reason: string
  summary: string
  summary_tokens: number
  created_ms: number
}

/** A handoff with its session id and visitor. */
export interface HandoffView extends HandoffRow {
  session_id: string
  visitor_key: string | null
  visitor_name: string | null
  visitor_email: string | null
}

export interface FeedbackRow {
  id: number
  site_id: number
  session_seq: number
  rating: number
  comment: string | null
  created_ms: number
}

/** Feedback with its session id and visitor. */
export interface FeedbackView extends FeedbackRow {
  session_id: string
  visitor_key: string | null
  visitor_name: string | null
  visitor_email: string | null
}

export interface ChatSettingsRow {
  site_id: number
  max_bot_replies: number
  min_confidence: number
  updated_ms: number
}

const SESSION_VIEW = `SELECT s.*, v.name AS visitor_name, v.email AS visitor_email
  FROM chat_sessions s LEFT JOIN visitors v ON v.site_id = s.site_id AND v.key = s.visitor_key`

/** Prepared statements over the chat tables. */
export function createChatRepo(db: Database) {
  const insertSession = db.query<ChatSessionRow, [string, number, string, string | null, number, number]>(
    `INSERT INTO chat_sessions (id, site_id, visitor_key, anon_id, status, started_ms, last_activity_ms)
     VALUES (?, ?, ?, ?, 'bot', ?, ?) RETURNING *`,
  )
  const sessionById = db.query<ChatSessionRow, [string]>('SELECT * FROM chat_sessions WHERE id = ?')
  const sessionBySeq = db.query<ChatSessionRow, [number]>('SELECT * FROM chat_sessions WHERE seq = ?')
  const sessionView = db.query<ChatSessionView, [number, string]>(`${SESSION_VIEW} WHERE s.site_id = ? AND s.id = ?`)
  const sessionViewBySeq = db.query<ChatSessionView, [number]>(`${SESSION_VIEW} WHERE s.seq = ?`)
  const listSessions = db.query<ChatSessionView, [number, string | null, number | null, number]>(
    `${SESSION_VIEW} WHERE s.site_id = ?1 AND (?2 IS NULL OR s.status = ?2) AND (?3 IS NULL OR s.seq < ?3)
     ORDER BY s.seq DESC LIMIT ?4`,
  )
  const touch = db.query<null, [number, number]>('UPDATE chat_sessions SET last_activity_ms = MAX(last_activity_ms, ?) WHERE seq = ?')
  const countBotReply = db.query<ChatSessionRow, [number, number]>(
    "UPDATE chat_sessions SET bot_replies = bot_replies + 1, last_activity_ms = MAX(last_activity_ms, ?) WHERE seq = ? AND status = 'bot' RETURNING *",
  )
  const toWaiting = db.query<ChatSessionRow, [string, number, number]>(
    `UPDATE chat_sessions SET status = 'waiting_human', handoff_reason = ?, last_activity_ms = MAX(last_activity_ms, ?)
     WHERE seq = ? AND status = 'bot' RETURNING *`,
  )
  const toHuman = db.query<ChatSessionRow, [number, number]>(
    `UPDATE chat_sessions SET status = 'human', last_activity_ms = MAX(last_activity_ms, ?)
     WHERE seq = ? AND status IN ('bot', 'waiting_human') RETURNING *`,
  )
  const close = db.query<ChatSessionRow, [string, number, number, number]>(
    `UPDATE chat_sessions SET status = 'closed', closed_by = ?, ended_ms = ?, last_activity_ms = MAX(last_activity_ms, ?)
     WHERE seq = ? AND status <> 'closed' RETURNING *`,
  )
  const inactive = db.query<ChatSessionRow, [number, number]>(
    `SELECT * FROM chat_sessions WHERE status IN ('bot', 'waiting_human', 'human') AND last_activity_ms < ? ORDER BY last_activity_ms LIMIT ?`,
  )

  const insertMessage = db.query<ChatMessageRow, [number, number, string, string, string | null, number | null, number]>(
    'INSERT INTO chat_messages (session_seq, site_id, role, text, author, tokens, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *',
  )
  const messagesAfter = db.query<ChatMessageRow, [number, number, number]>('SELECT * FROM chat_messages WHERE session_seq = ? AND id > ? ORDER BY id LIMIT ?')
  const recentMessages = db.query<ChatMessageRow, [number, number]>('SELECT * FROM chat_messages WHERE session_seq = ? ORDER BY id DESC LIMIT ?')

  const insertHandoff = db.query<HandoffRow, [number, number, string, string, number, number]>(
    'INSERT INTO handoffs (site_id, session_seq, reason, summary, summary_tokens, created_ms) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
  )
  const handoffView = `SELECT h.*, s.id AS session_id, s.visitor_key, v.name AS visitor_name, v.email AS visitor_email
    FROM handoffs h JOIN chat_sessions s ON s.seq = h.session_seq
    LEFT JOIN visitors v ON v.site_id = s.site_id AND v.key = s.visitor_key`
  const handoffBySession = db.query<HandoffView, [number]>(`${handoffView} WHERE h.session_seq = ?`)
  const listHandoffs = db.query<HandoffView, [number, number | null, number | null, number]>(
    `${handoffView} WHERE h.site_id = ?1 AND (?2 IS NULL OR h.created_ms >= ?2) AND (?3 IS NULL OR h.id < ?3)
     ORDER BY h.id DESC LIMIT ?4`,
  )

  const insertFeedback = db.query<FeedbackRow, [number, number, number, string | null, number]>(
    'INSERT INTO feedback (site_id, session_seq, rating, comment, created_ms) VALUES (?, ?, ?, ?, ?) RETURNING *',
  )
  const feedbackView = `SELECT f.*, s.id AS session_id, s.visitor_key, v.name AS visitor_name, v.email AS visitor_email
    FROM feedback f JOIN chat_sessions s ON s.seq = f.session_seq
    LEFT JOIN visitors v ON v.site_id = s.site_id AND v.key = s.visitor_key`
  const feedbackBySession = db.query<FeedbackView, [number]>(`${feedbackView} WHERE f.session_seq = ?`)
  const listFeedback = db.query<FeedbackView, [number, number | null, number | null, number | null, number]>(
    `${feedbackView} WHERE f.site_id = ?1 AND (?2 IS NULL OR f.created_ms >= ?2) AND (?3 IS NULL OR f.rating = ?3)
       AND (?4 IS NULL OR f.id < ?4)
     ORDER BY f.id DESC LIMIT ?5`,
  )

  const settings = db.query<ChatSettingsRow, [number]>('SELECT * FROM chat_settings WHERE site_id = ?')
  const saveSettings = db.query<ChatSettingsRow, [number, number, number, number]>(
    `INSERT INTO chat_settings (site_id, max_bot_replies, min_confidence, updated_ms) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (site_id) DO UPDATE SET max_bot_replies = ?2, min_confidence = ?3, updated_ms = ?4 RETURNING *`,
  )

  // Privacy erasure keeps the rows that carry counts (AI replies, tokens, ratings) but blanks every
  // word the visitor or the agents wrote about them and detaches the session from the visitor.
  const eraseSessionIdentity = db.query<{ seq: number }, [number, string]>(
    'UPDATE chat_sessions SET visitor_key = NULL, anon_id = NULL WHERE site_id = ? AND visitor_key = ? RETURNING seq',
  )
  const eraseMessages = db.query<never, [number]>("UPDATE chat_messages SET text = '', author = NULL WHERE session_seq = ?")
  const eraseHandoff = db.query<never, [number]>("UPDATE handoffs SET summary = '' WHERE session_seq = ?")
  const eraseFeedback = db.query<never, [number]>('UPDATE feedback SET comment = NULL WHERE session_seq = ?')
  const messageUsage = db.query<{ ai_replies: number | null; tokens: number | null }, [number, number, number]>(
    `SELECT SUM(CASE WHEN role = 'ai' THEN 1 ELSE 0 END) AS ai_replies, SUM(tokens) AS tokens
     FROM chat_messages WHERE site_id = ? AND created_ms >= ? AND created_ms < ?`,
  )
  const summaryUsage = db.query<{ tokens: number | null }, [number, number, number]>(
    'SELECT SUM(summary_tokens) AS tokens FROM handoffs WHERE site_id = ? AND created_ms >= ? AND created_ms < ?',
  )

  return {
    /** Inserts a session with the bot. */
    insertSession: (id: string, siteId: number, visitorKey: string, anonId: string | null, nowMs: number) =>
      insertSession.get(id, siteId, visitorKey, anonId, nowMs, nowMs) as ChatSessionRow,
    /** A session by its public id, whatever its site (the caller checks the site). */
    sessionById: (id: string) => sessionById.get(id),
    /** A session by its seq. */
    sessionBySeq: (seq: number) => sessionBySeq.get(seq),
    /** A site's session with its visitor, or null. */
    sessionView: (siteId: number, id: string) => sessionView.get(siteId, id),
    /** A session with its visitor, by seq. */
    sessionViewBySeq: (seq: number) => sessionViewBySeq.get(seq),
    /** One page of a site's sessions, newest first, optionally of one status, before `beforeSeq`. */
    listSessions: (siteId: number, status: SessionStatus | null, beforeSeq: number | null, limit: number) => listSessions.all(siteId, status, beforeSeq, limit),
    /** Marks activity on a session now. */
    touch: (seq: number, nowMs: number) => touch.run(nowMs, seq),
    /** Counts one bot reply; null when the session is no longer with the bot. */
    countBotReply: (seq: number, nowMs: number) => countBotReply.get(nowMs, seq),
    /** Moves a session from the bot to waiting for a human; null when it is not with the bot. */
    toWaitingHuman: (seq: number, reason: string, nowMs: number) => toWaiting.get(reason, nowMs, seq),
    /** Gives a session to a human agent; null when it is closed or already with one. */
    toHuman: (seq: number, nowMs: number) => toHuman.get(nowMs, seq),
    /** Closes a session; null when it was closed already. */
    close: (seq: number, closedBy: string, nowMs: number) => close.get(closedBy, nowMs, nowMs, seq),
    /** Open sessions idle since before `cutoffMs`, oldest first. */
    inactive: (cutoffMs: number, limit: number) => inactive.all(cutoffMs, limit),

    /** Appends a message. */
    insertMessage: (seq: number, siteId: number, role: MessageRole, text: string, author: string | null, tokens: number | null, nowMs: number) =>
      insertMessage.get(seq, siteId, role, text, author, tokens, nowMs) as ChatMessageRow,
    /** Messages of a session after message id `afterId`, oldest first. */
    messagesAfter: (seq: number, afterId: number, limit: number) => messagesAfter.all(seq, afterId, limit),
    /** The last `limit` messages of a session, oldest first. */
    recentMessages: (seq: number, limit: number) => recentMessages.all(seq, limit).reverse(),

    /** Records a handoff. */
    insertHandoff: (siteId: number, seq: number, reason: string, summary: string, summaryTokens: number, nowMs: number) =>
      insertHandoff.get(siteId, seq, reason, summary, summaryTokens, nowMs) as HandoffRow,
    /** The handoff of a session, or null. */
    handoffBySession: (seq: number) => handoffBySession.get(seq),
    /** One page of a site's handoffs, newest first. */
    listHandoffs: (siteId: number, sinceMs: number | null, beforeId: number | null, limit: number) => listHandoffs.all(siteId, sinceMs, beforeId, limit),

    /** Records feedback (the unique session column refuses a second one). */
    insertFeedback: (siteId: number, seq: number, rating: number, comment: string | null, nowMs: number) =>
      insertFeedback.get(siteId, seq, rating, comment, nowMs) as FeedbackRow,
    /** The feedback of a session, or null. */
    feedbackBySession: (seq: number) => feedbackBySession.get(seq),
    /** One page of a site's feedback, newest first. */
    listFeedback: (siteId: number, f: { sinceMs: number | null; rating: number | null; beforeId: number | null; limit: number }) =>
      listFeedback.all(siteId, f.sinceMs, f.rating, f.beforeId, f.limit),

    /** A site's chat settings, or null when it has kept the defaults. */
    settings: (siteId: number) => settings.get(siteId),
    /** Stores a site's chat settings. */
    saveSettings: (siteId: number, maxBotReplies: number, minConfidence: number, nowMs: number) =>
      saveSettings.get(siteId, maxBotReplies, minConfidence, nowMs) as ChatSettingsRow,

    /** Erases what a visitor's chats say (call inside the visitor-erasure transaction); returns the session count. */
    eraseVisitor: (siteId: number, visitorKey: string) => {
      const sessions = eraseSessionIdentity.all(siteId, visitorKey)
      for (const { seq } of sessions) {
        eraseMessages.run(seq)
        eraseHandoff.run(seq)
        eraseFeedback.run(seq)
      }
      return sessions.length
    },

    /** Bot replies and tokens of a site in [fromMs, toMs). */
    usage: (siteId: number, fromMs: number, toMs: number) => {
      const m = messageUsage.get(siteId, fromMs, toMs)
      const s = summaryUsage.get(siteId, fromMs, toMs)
      return { aiReplies: m?.ai_replies ?? 0, tokens: (m?.tokens ?? 0) + (s?.tokens ?? 0) }
    },
  }
}
export type ChatRepo = ReturnType<typeof createChatRepo>
