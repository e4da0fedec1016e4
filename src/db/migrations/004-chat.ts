/**
 * The chat engine: knowledge-base articles with their FTS5 passage index, per-site chat settings,
 * chat sessions, their messages, handoffs to humans and post-chat feedback.
 *
 * Sessions have a public random id (`cs_...`, unguessable, shown to visitors) and an integer `seq`
 * that orders them and that the other tables reference. `kb_passages` is the only SQLite-specific
 * table (FTS5); a PostgreSQL store would use a tsvector column in its place.
 */
export default {
  version: 4,
  name: 'chat',
  sql: `
    CREATE TABLE kb_articles (
      id INTEGER PRIMARY KEY,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      title TEXT NOT NULL,
      body TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      updated_ms INTEGER NOT NULL
    );
    CREATE INDEX kb_articles_site ON kb_articles(site_id, id);
    CREATE VIRTUAL TABLE kb_passages USING fts5(
      title,
      text,
      site_id UNINDEXED,
      article_id UNINDEXED,
      position UNINDEXED,
      tokenize = 'porter unicode61 remove_diacritics 2'
    );
    CREATE TABLE chat_settings (
      site_id INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
      max_bot_replies INTEGER NOT NULL,
      min_confidence REAL NOT NULL,
      updated_ms INTEGER NOT NULL
    );
    CREATE TABLE chat_sessions (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      visitor_key TEXT,
      anon_id TEXT,
      status TEXT NOT NULL CHECK (status IN ('bot', 'waiting_human', 'human', 'closed')),
      bot_replies INTEGER NOT NULL DEFAULT 0,
      handoff_reason TEXT,
      closed_by TEXT,
      started_ms INTEGER NOT NULL,
      last_activity_ms INTEGER NOT NULL,
      ended_ms INTEGER
    );
    CREATE INDEX chat_sessions_site ON chat_sessions(site_id, seq);
    CREATE INDEX chat_sessions_site_status ON chat_sessions(site_id, status, seq);
    CREATE INDEX chat_sessions_activity ON chat_sessions(status, last_activity_ms);
    CREATE TABLE chat_messages (
      id INTEGER PRIMARY KEY,
      session_seq INTEGER NOT NULL REFERENCES chat_sessions(seq) ON DELETE CASCADE,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      role TEXT NOT NULL CHECK (role IN ('visitor', 'ai', 'agent', 'system')),
      text TEXT NOT NULL,
      author TEXT,
      tokens INTEGER,
      created_ms INTEGER NOT NULL
    );
    CREATE INDEX chat_messages_session ON chat_messages(session_seq, id);
    CREATE INDEX chat_messages_site_time ON chat_messages(site_id, created_ms);
    CREATE TABLE handoffs (
      id INTEGER PRIMARY KEY,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      session_seq INTEGER NOT NULL UNIQUE REFERENCES chat_sessions(seq) ON DELETE CASCADE,
      reason TEXT NOT NULL,
      summary TEXT NOT NULL,
      summary_tokens INTEGER NOT NULL DEFAULT 0,
      created_ms INTEGER NOT NULL
    );
    CREATE INDEX handoffs_site ON handoffs(site_id, id);
    CREATE INDEX handoffs_site_time ON handoffs(site_id, created_ms);
    CREATE TABLE feedback (
      id INTEGER PRIMARY KEY,
      site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
      session_seq INTEGER NOT NULL UNIQUE REFERENCES chat_sessions(seq) ON DELETE CASCADE,
      rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
      comment TEXT,
      created_ms INTEGER NOT NULL
    );
    CREATE INDEX feedback_site ON feedback(site_id, id);
  `,
}
