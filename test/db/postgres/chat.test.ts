/**
 * The chat repository: PostgreSQL answers what SQLite answers (sessions and their views, status
 * changes guarded in SQL, message cursors, handoffs, feedback, settings, erasure, usage), and on
 * PostgreSQL racing requests still get one winner per guarded change and one feedback per session.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { AsyncRepo } from '../../../src/db/async-repo'
import { UniqueViolationError } from '../../../src/db/errors'
import { createPostgresChatRepo } from '../../../src/db/postgres/chat'
import { openPostgres } from '../../../src/db/postgres/connection'
import { fromPostgresError } from '../../../src/db/postgres/errors'
import { createPostgresSiteRepo } from '../../../src/db/postgres/sites'
import type { ChatRepo, ChatSessionRow } from '../../../src/db/rows'
import { asAsync, type Engines, openEngines, sameOnBoth } from './engines'
import { TEST_DATABASE_URL } from './harness'

type Repo = AsyncRepo<ChatRepo>
const T = 1_700_000_000_000

/** Visitors the session views join to: a named one, one without profile, and site 2's visitor with the same key. */
const VISITORS: [number, string, string | null, string | null][] = [
  [1, 'anon:a1', 'Zoë Ünïcode', 'zoe@example.com'],
  [1, 'user_42', null, null],
  [2, 'anon:a1', 'Other site', 'other@example.com'],
]

/** Both engines with sites 1 and 2 and the visitors above (written directly: the visitors repo is not under test). */
async function enginesWithVisitors(): Promise<Engines> {
  const e = await openEngines()
  for (const sites of [asAsync(e.sqlite.sites), createPostgresSiteRepo(e.pg)]) {
    await sites.insert('one', 'free', null, 'pk_one', T)
    await sites.insert('two', 'free', null, 'pk_two', T)
  }
  for (const [site, key, name, email] of VISITORS) {
    e.sqlite.db
      .query('INSERT INTO visitors (site_id, key, name, email, first_seen_ms, last_seen_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(site, key, name, email, T, T, T)
    await e.pg`INSERT INTO visitors (site_id, key, name, email, first_seen_ms, last_seen_ms, updated_ms) VALUES (${site}, ${key}, ${name}, ${email}, ${T}, ${T}, ${T})`
  }
  return e
}

/** Both repos of `e`. */
function repos(e: Engines): [Repo, Repo] {
  return [asAsync(e.sqlite.chat), createPostgresChatRepo(e.pg)]
}

/** bun:sqlite's run() result without its lastInsertRowid (the connection's last INSERT, unrelated to the UPDATE). */
function changes(r: { changes: number }) {
  return { changes: r.changes }
}

describe.skipIf(!TEST_DATABASE_URL)('chat on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await enginesWithVisitors()
  })
  afterAll(() => e?.close())

  test('sessions: insert, by id and seq, views with the visitor, pages by status and cursor, other site', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (c) => [
      await c.insertSession('cs_a', 1, 'anon:a1', 'a1', T),
      await c.insertSession('cs_b', 1, 'user_42', null, T + 1),
      await c.insertSession('cs_c', 2, 'anon:a1', 'a1', T + 2),
      await c.insertSession('cs_d', 1, 'ghost', null, T + 3),
      await c.insertSession('cs_é✓', 1, 'anon:a1', 'a1', T + 3),
      await c.sessionById('cs_a'),
      await c.sessionById('cs_c'),
      await c.sessionById('CS_A'),
      await c.sessionById('nope'),
      await c.sessionBySeq(2),
      await c.sessionBySeq(99),
      await c.sessionView(1, 'cs_a'),
      await c.sessionView(1, 'cs_c'),
      await c.sessionView(2, 'cs_c'),
      await c.sessionView(1, 'cs_d'),
      await c.sessionView(1, 'cs_é✓'),
      await c.sessionViewBySeq(2),
      await c.sessionViewBySeq(99),
      await c.listSessions(1, null, null, 10),
      await c.listSessions(1, 'bot', null, 2),
      await c.listSessions(1, 'bot', 4, 2),
      await c.listSessions(1, null, 2, 10),
      await c.listSessions(1, null, 1, 10),
      await c.listSessions(1, 'closed', null, 10),
      await c.listSessions(2, null, null, 10),
      await c.listSessions(3, null, null, 10),
      await c.listSessions(1, null, null, 0),
      await c.listSessions(1, null, null, -1),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[0]).toMatchObject({ seq: 1, status: 'bot', bot_replies: 0, ended_ms: null })
    expect(fromPg[11]).toMatchObject({ visitor_name: 'Zoë Ünïcode' })
    expect(fromPg[12]).toBeNull()
  })

  test('status changes are guarded in SQL: each answers null when the session is not in the state it leaves', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (c) => [
      changes(await c.touch(1, T + 100)),
      // An older time never moves last activity back.
      changes(await c.touch(1, T + 50)),
      changes(await c.touch(99, T + 50)),
      await c.sessionBySeq(1),
      await c.countBotReply(1, T + 110),
      await c.countBotReply(1, T + 105),
      await c.toWaitingHuman(1, 'visitor_requested', T + 120),
      await c.toWaitingHuman(1, 'low_confidence', T + 121),
      await c.countBotReply(1, T + 122),
      await c.toHuman(1, T + 130),
      await c.toHuman(1, T + 131),
      await c.toWaitingHuman(1, 'max_turns', T + 132),
      await c.close(1, 'agent', T + 125),
      await c.close(1, 'visitor', T + 141),
      await c.toHuman(1, T + 142),
      await c.countBotReply(1, T + 143),
      await c.toHuman(2, T + 150),
      await c.close(4, 'inactivity', T + 160),
      await c.toWaitingHuman(99, 'bot_error', T),
      await c.close(99, 'agent', T),
      await c.listSessions(1, 'closed', null, 10),
      await c.listSessions(1, 'human', null, 10),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[0]).toEqual({ changes: 1 })
    expect(fromPg[2]).toEqual({ changes: 0 })
    expect(fromPg[7]).toBeNull()
    // Closed at an earlier time than the last activity: ended_ms says so, last activity stays.
    expect(fromPg[12]).toMatchObject({ status: 'closed', closed_by: 'agent', ended_ms: T + 125, last_activity_ms: T + 130 })
  })

  test('inactive sessions: oldest activity first, SQLite order among equal times (status, then seq), limit', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (c) => {
      const at = T + 500
      const t1 = await c.insertSession('cs_t1', 1, 'anon:t1', 't1', at)
      const t2 = await c.insertSession('cs_t2', 1, 'anon:t2', 't2', at)
      const t3 = await c.insertSession('cs_t3', 2, 'anon:t3', 't3', at)
      const t4 = await c.insertSession('cs_t4', 1, 'anon:t4', 't4', at)
      await c.toHuman(t2.seq, at)
      await c.toWaitingHuman(t1.seq, 'visitor_requested', at)
      return [
        (await c.inactive(at + 1, 100)).map((s) => [s.id, s.status, s.last_activity_ms]),
        await c.inactive(at + 1, 3),
        await c.inactive(at, 100),
        await c.inactive(T, 100),
        await c.inactive(at + 1, 0),
        [t3.seq, t4.seq],
      ]
    })
    expect(fromPg).toEqual(fromSqlite)
    expect((fromPg[0] as string[][]).slice(-4).map((r) => r[0])).toEqual(['cs_t3', 'cs_t4', 'cs_t2', 'cs_t1'])
  })

  test('messages: append, pages after a cursor, the most recent oldest first, unicode, nulls', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (c) => {
      const out: unknown[] = []
      // Sessions 2 and 5 interleave, so a session's ids are not consecutive.
      out.push(await c.insertMessage(2, 1, 'visitor', 'Hallo 👋 — ça va?', null, null, T + 200))
      out.push(await c.insertMessage(5, 1, 'visitor', 'other session', null, null, T + 201))
      out.push(await c.insertMessage(2, 1, 'ai', 'Bonjour! Voici la réponse.', null, 128, T + 202))
      out.push(await c.insertMessage(2, 1, 'agent', 'Ann here ✓', 'Ann Agent', null, T + 203))
      out.push(await c.insertMessage(5, 1, 'ai', 'answer', null, 0, T + 203))
      out.push(await c.insertMessage(2, 1, 'system', '', null, 7, T + 203))
      out.push(await c.messagesAfter(2, 0, 100))
      out.push(await c.messagesAfter(2, 1, 2))
      out.push(await c.messagesAfter(2, 4, 10))
      out.push(await c.messagesAfter(2, 6, 10))
      out.push(await c.messagesAfter(2, 0, 0))
      out.push(await c.messagesAfter(99, 0, 10))
      out.push(await c.recentMessages(2, 2))
      out.push(await c.recentMessages(2, 100))
      out.push(await c.recentMessages(2, 0))
      out.push(await c.recentMessages(99, 5))
      return out
    })
    expect(fromPg).toEqual(fromSqlite)
    expect((fromPg[6] as { id: number }[]).map((m) => m.id)).toEqual([1, 3, 4, 6])
    expect((fromPg[12] as { id: number }[]).map((m) => m.id)).toEqual([4, 6])
  })

  test('handoffs: insert, by session with its visitor, pages by time and cursor, other site', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (c) => [
      await c.insertHandoff(1, 1, 'visitor_requested', 'Wants a refund — «urgent»', 0, T + 300),
      await c.insertHandoff(1, 2, 'low_confidence', 'Asked about SSO', 57, T + 301),
      await c.insertHandoff(2, 3, 'bot_error', 'other site', 3, T + 302),
      await c.insertHandoff(1, 4, 'max_turns', '', 9, T + 303),
      await c.handoffBySession(1),
      await c.handoffBySession(4),
      await c.handoffBySession(5),
      await c.listHandoffs(1, null, null, 10),
      await c.listHandoffs(1, T + 301, null, 10),
      await c.listHandoffs(1, null, 4, 1),
      await c.listHandoffs(1, null, 2, 10),
      await c.listHandoffs(1, T + 301, 4, 10),
      await c.listHandoffs(2, null, null, 10),
      await c.listHandoffs(1, T + 999, null, 10),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[4]).toMatchObject({ session_id: 'cs_a', visitor_key: 'anon:a1', visitor_name: 'Zoë Ünïcode', visitor_email: 'zoe@example.com' })
    expect(fromPg[5]).toMatchObject({ session_id: 'cs_d', visitor_key: 'ghost', visitor_name: null })
  })

  test('feedback: insert, by session with its visitor, pages by time, rating and cursor, other site', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (c) => [
      await c.insertFeedback(1, 1, 5, 'Très bien 👍', T + 400),
      await c.insertFeedback(1, 2, 2, null, T + 401),
      await c.insertFeedback(2, 3, 5, 'other site', T + 402),
      await c.insertFeedback(1, 4, 5, '', T + 403),
      await c.feedbackBySession(1),
      await c.feedbackBySession(2),
      await c.feedbackBySession(5),
      await c.listFeedback(1, { sinceMs: null, rating: null, beforeId: null, limit: 10 }),
      await c.listFeedback(1, { sinceMs: null, rating: 5, beforeId: null, limit: 10 }),
      await c.listFeedback(1, { sinceMs: T + 401, rating: null, beforeId: null, limit: 10 }),
      await c.listFeedback(1, { sinceMs: null, rating: null, beforeId: 4, limit: 1 }),
      await c.listFeedback(1, { sinceMs: T + 400, rating: 5, beforeId: 4, limit: 10 }),
      await c.listFeedback(1, { sinceMs: null, rating: 3, beforeId: null, limit: 10 }),
      await c.listFeedback(2, { sinceMs: null, rating: null, beforeId: null, limit: 10 }),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[4]).toMatchObject({ rating: 5, comment: 'Très bien 👍', session_id: 'cs_a', visitor_name: 'Zoë Ünïcode' })
  })

  test('settings: none until saved, then the saved values, updated in place', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (c) => [
      await c.settings(1),
      await c.saveSettings(1, 5, 0.35, T + 600),
      await c.settings(1),
      await c.saveSettings(1, 3, 0.1 + 0.2, T + 601),
      await c.settings(1),
      await c.settings(2),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[4]).toEqual({ site_id: 1, max_bot_replies: 3, min_confidence: 0.1 + 0.2, updated_ms: T + 601 })
  })

  test('usage: AI replies and tokens (messages and summaries) in a time window', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (c) => [
      await c.usage(1, T, T + 10_000),
      await c.usage(1, T + 202, T + 203),
      await c.usage(1, T + 300, T + 302),
      await c.usage(2, T, T + 10_000),
      await c.usage(3, T, T + 10_000),
      await c.usage(1, T + 10_000, T + 20_000),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[0]).toEqual({ aiReplies: 2, tokens: 128 + 0 + 7 + 57 + 9 })
    expect(fromPg[4]).toEqual({ aiReplies: 0, tokens: 0 })
  })

  test('erasing a visitor blanks what their chats say on that site only, and detaches the sessions', async () => {
    const { fromSqlite, fromPg } = await sameOnBoth(...repos(e), async (c) => [
      await c.insertMessage(1, 1, 'visitor', 'my address is 1 Main St', null, null, T + 700),
      await c.insertMessage(3, 2, 'visitor', 'site 2 keeps this', null, null, T + 700),
      await c.eraseVisitor(1, 'anon:a1'),
      await c.eraseVisitor(1, 'anon:a1'),
      await c.eraseVisitor(1, 'nobody'),
      await c.sessionView(1, 'cs_a'),
      await c.sessionView(1, 'cs_é✓'),
      await c.sessionView(2, 'cs_c'),
      await c.messagesAfter(1, 0, 100),
      await c.messagesAfter(3, 0, 100),
      await c.handoffBySession(1),
      await c.handoffBySession(3),
      await c.feedbackBySession(1),
      await c.feedbackBySession(3),
      await c.usage(1, T, T + 10_000),
    ])
    expect(fromPg).toEqual(fromSqlite)
    expect(fromPg[2]).toBe(2)
    expect(fromPg[5]).toMatchObject({ visitor_key: null, anon_id: null, visitor_name: null })
    expect(fromPg[12]).toMatchObject({ comment: null, rating: 5 })
  })
})

describe.skipIf(!TEST_DATABASE_URL)('chat: one handoff and one feedback per session', () => {
  let e: Engines
  beforeAll(async () => {
    e = await enginesWithVisitors()
  })
  afterAll(() => e?.close())

  test('a second handoff or feedback for a session is a unique violation on both engines', async () => {
    const [lite, pg] = repos(e)
    for (const c of [lite, pg]) {
      await c.insertSession('cs_1', 1, 'anon:a1', 'a1', T)
      await c.insertHandoff(1, 1, 'visitor_requested', 's', 0, T)
      await c.insertFeedback(1, 1, 4, null, T)
    }
    const sqliteCodes = [
      await lite.insertHandoff(1, 1, 'visitor_requested', 's', 0, T).catch((err) => err.code),
      await lite.insertFeedback(1, 1, 5, 'again', T).catch((err) => err.code),
    ]
    expect(sqliteCodes).toEqual(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_UNIQUE'])
    const pgErrors = [
      fromPostgresError(await pg.insertHandoff(1, 1, 'visitor_requested', 's', 0, T).catch((err) => err)),
      fromPostgresError(await pg.insertFeedback(1, 1, 5, 'again', T).catch((err) => err)),
    ]
    expect(pgErrors.map((err) => err instanceof UniqueViolationError && [err.constraint, err.columns])).toEqual([
      ['handoffs_session_seq_key', ['session_seq']],
      ['feedback_session_seq_key', ['session_seq']],
    ])
    // The first ones are unchanged.
    expect(await pg.feedbackBySession(1)).toEqual(await lite.feedbackBySession(1))
  })

  test('on PostgreSQL, racing requests: one feedback per session, one winner per status change', async () => {
    // Several connections at once, as several instances would be: what SQLite's single writer
    // serialises, the unique key and the guarded UPDATEs decide here.
    const pool = openPostgres({ url: await urlOf(e), poolSize: 8, statementTimeoutMs: 30_000, prepare: true })
    try {
      const c = createPostgresChatRepo(pool)
      for (let i = 0; i < 5; i++) {
        const s = await c.insertSession(`cs_race${i}`, 1, 'anon:a1', 'a1', T + i)
        const closes = await Promise.all(Array.from({ length: 8 }, (_, k) => c.close(s.seq, k % 2 ? 'agent' : 'visitor', T + 10)))
        expect(closes.filter((r) => r !== null)).toHaveLength(1)
        const ratings = await Promise.allSettled(Array.from({ length: 8 }, (_, k) => c.insertFeedback(1, s.seq, 1 + (k % 5), `try ${k}`, T + 20)))
        expect(ratings.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
        for (const r of ratings) if (r.status === 'rejected') expect(fromPostgresError(r.reason)).toBeInstanceOf(UniqueViolationError)
      }
      const s = (await c.insertSession('cs_take', 1, 'anon:a1', 'a1', T)) as ChatSessionRow
      const moves = await Promise.all([
        ...Array.from({ length: 4 }, () => c.toWaitingHuman(s.seq, 'visitor_requested', T + 1)),
        ...Array.from({ length: 4 }, () => c.countBotReply(s.seq, T + 1)),
      ])
      const waiting = moves.slice(0, 4).filter((r) => r !== null)
      const replies = moves.slice(4).filter((r) => r !== null)
      // Handed off once; bot replies counted only while the bot still had the chat.
      expect(waiting).toHaveLength(1)
      expect((await c.sessionBySeq(s.seq))?.bot_replies).toBe(replies.length)
    } finally {
      await pool.close()
    }
  })
})

/** The URL of `e`'s PostgreSQL database (the test server's, with that database's name). */
async function urlOf(e: Engines): Promise<string> {
  const [row] = await e.pg`SELECT current_database() AS d`
  const url = new URL(TEST_DATABASE_URL as string)
  url.pathname = `/${row.d}`
  return url.toString()
}
