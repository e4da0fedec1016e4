/** The visitors repository: PostgreSQL answers what SQLite answers, step by step. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { AsyncRepo } from '../../../src/db/async-repo'
import { createPostgresSegmentRepo } from '../../../src/db/postgres/segments'
import { createPostgresSiteRepo } from '../../../src/db/postgres/sites'
import { createPostgresVisitorEventRepo } from '../../../src/db/postgres/visitor-events'
import { createPostgresVisitorRepo } from '../../../src/db/postgres/visitors'
import type { SegmentRepo, VisitorEventRepo, VisitorListFilter, VisitorRepo, VisitorRow } from '../../../src/db/rows'
import { asAsync, type Engines, expectSame, openEngines } from './engines'
import { TEST_DATABASE_URL } from './harness'

interface Repos {
  visitors: AsyncRepo<VisitorRepo>
  events: AsyncRepo<VisitorEventRepo>
  segments: AsyncRepo<SegmentRepo>
}

const T0 = 1_700_000_000_000

describe.skipIf(!TEST_DATABASE_URL)('visitors on both engines', () => {
  let e: Engines
  let sqlite: Repos
  let pg: Repos
  /** Runs `script` on SQLite, then on PostgreSQL, and expects the same answers. */
  const same = (script: (r: Repos) => Promise<unknown[]>) => expectSame(sqlite, pg, script)

  beforeAll(async () => {
    e = await openEngines()
    sqlite = { visitors: asAsync(e.sqlite.visitors), events: asAsync(e.sqlite.visitorEvents), segments: asAsync(e.sqlite.segments) }
    pg = { visitors: createPostgresVisitorRepo(e.pg), events: createPostgresVisitorEventRepo(e.pg), segments: createPostgresSegmentRepo(e.pg) }
    for (const sites of [asAsync(e.sqlite.sites), createPostgresSiteRepo(e.pg)]) {
      await sites.insert('one', 'free', null, 'pk_one', T0)
      await sites.insert('two', 'free', null, 'pk_two', T0)
    }
  })
  afterAll(() => e?.close())

  test('insert, insertTracked, byKey, byId: rows, numbers, nulls, unicode, other site, not found', async () => {
    const answers = await same(async ({ visitors }) => [
      await visitors.insert(1, 'user_1', 'Ada@Example.com', 'Ada Lovelace', '{"plan":"pro","seats":3}', T0),
      await visitors.insert(1, 'user_2', null, null, '{}', T0 + 1),
      await visitors.insert(1, 'ünïcødé-ключ-🙂', 'zoë@example.org', 'Zoë 🙂', '{"lang":"日本語"}', T0 + 2),
      // A tracked visitor whose first event is stamped later than now (a fast client clock) and one earlier.
      await visitors.insertTracked(1, 'anon_late', T0 + 60_000, T0 + 3),
      await visitors.insertTracked(1, 'anon_early', T0 - 60_000, T0 + 4),
      await visitors.insert(2, 'user_1', 'other@site.two', null, '{}', T0 + 5),
      await visitors.byKey(1, 'user_1'),
      await visitors.byKey(2, 'user_1'),
      await visitors.byKey(1, 'ünïcødé-ключ-🙂'),
      await visitors.byKey(1, 'USER_1'),
      await visitors.byKey(3, 'user_1'),
      await visitors.byId(1, 2),
      await visitors.byId(2, 2),
      await visitors.byId(1, 999),
    ])
    const first = answers[0] as VisitorRow
    expect(first).toEqual({
      id: 1,
      site_id: 1,
      key: 'user_1',
      email: 'Ada@Example.com',
      name: 'Ada Lovelace',
      attributes: '{"plan":"pro","seats":3}',
      event_count: 0,
      first_seen_ms: T0,
      last_seen_ms: T0,
      updated_ms: T0,
    })
    expect((answers[3] as VisitorRow).last_seen_ms).toBe(T0 + 60_000)
    expect((answers[4] as VisitorRow).last_seen_ms).toBe(T0 + 4)
    expect(answers.slice(10)).toEqual([null, expect.anything(), null, null])
  })

  test('updateProfile, recordEvents, absorb: seen times only move forward, other site is null', async () => {
    await same(async ({ visitors }) => [
      await visitors.updateProfile(1, 1, 'ada@new.example', 'Ada', '{"plan":"team"}', T0 + 10),
      // now earlier than last seen: last_seen_ms stays, updated_ms takes now.
      await visitors.updateProfile(1, 1, null, null, '{}', T0 - 5),
      await visitors.updateProfile(2, 1, 'x@x', 'x', '{}', T0 + 10),
      await visitors.recordEvents(1, 2, 3, T0 + 500, T0 + 20),
      await visitors.recordEvents(1, 2, 1, T0 + 100, T0 + 21),
      await visitors.recordEvents(2, 2, 1, T0 + 100, T0 + 21),
      await visitors.recordEvents(1, 999, 1, T0, T0),
      await visitors.absorb(1, 2, { event_count: 7, first_seen_ms: T0 - 1_000, last_seen_ms: T0 + 400 }),
      await visitors.absorb(1, 2, { event_count: 0, first_seen_ms: T0 + 9_000, last_seen_ms: T0 + 9_000 }),
      await visitors.absorb(2, 2, { event_count: 1, first_seen_ms: 0, last_seen_ms: 0 }),
      await visitors.byId(1, 2),
    ])
  })

  test('list: activity order, id as tie-breaker, cursor pages, limits', async () => {
    // Site 2 gets ten visitors, several seen at the very same millisecond, so the cursor must break ties by id.
    await same(async ({ visitors }) => {
      const out: unknown[] = []
      for (let i = 0; i < 10; i++) out.push(await visitors.insertTracked(2, `tie_${i}`, T0 + 1_000 * Math.floor(i / 3), T0 - 10_000))
      return out
    })
    await same(async ({ visitors }) => {
      const out: unknown[] = []
      let after: VisitorListFilter['after'] = null
      // Walk the site in pages of 3 as the API does (limit + 1 rows fetched to know has_more).
      for (let pageNo = 0; pageNo < 6; pageNo++) {
        const rows = await visitors.list(2, { after, limit: 4 })
        out.push(rows.map((r) => [r.id, r.last_seen_ms]))
        const last = rows.slice(0, 3).at(-1)
        if (rows.length <= 3 || !last) break
        after = { lastSeenMs: last.last_seen_ms, id: last.id }
      }
      out.push(await visitors.list(2, { limit: 0 }))
      out.push(await visitors.list(2, { limit: -1 }))
      out.push(await visitors.list(2, { after: { lastSeenMs: T0 + 1_000, id: 5 }, limit: 100 }))
      out.push(await visitors.list(2, { after: { lastSeenMs: Number.MIN_SAFE_INTEGER, id: 1 }, limit: 100 }))
      out.push(await visitors.list(3, { limit: 100 }))
      out.push(await visitors.allIds(2))
      out.push(await visitors.allIds(3))
      return out
    })
  })

  test('list filters: email (ASCII case folding only), empty email, updated since, segment, combined', async () => {
    const answers = await same(async ({ visitors, segments }) => {
      const caps = await visitors.insert(1, 'caps', 'ADA@NEW.EXAMPLE', null, '{}', T0 + 30)
      await visitors.insert(1, 'umlaut', 'ÜBER@Example.com', null, '{}', T0 + 31)
      await visitors.insert(1, 'umlaut_lower', 'über@example.com', null, '{}', T0 + 32)
      const vip = await segments.insert(1, 'VIP', '{"all":[{"attribute":"plan","op":"eq","value":"pro"}]}', T0)
      const other = await segments.insert(2, 'VIP', '{"all":[]}', T0)
      await segments.addMember(vip.id, 1, T0)
      await segments.addMember(vip.id, 3, T0)
      await segments.addMember(vip.id, caps.id, T0)
      await segments.addMember(other.id, 6, T0)
      const ids = (rows: VisitorRow[]) => rows.map((r) => r.id)
      return [
        ids(await visitors.list(1, { email: 'ada@new.example', limit: 10 })),
        ids(await visitors.list(1, { email: 'Ada@NEW.example', limit: 10 })),
        // SQLite's lower() folds ASCII only: 'Ü' is not 'ü'.
        ids(await visitors.list(1, { email: 'über@example.com', limit: 10 })),
        ids(await visitors.list(1, { email: 'ÜBER@EXAMPLE.COM', limit: 10 })),
        ids(await visitors.list(1, { email: 'nobody@example.com', limit: 10 })),
        // An empty email filter matches nothing (it is not "no filter").
        ids(await visitors.list(1, { email: '', limit: 10 })),
        ids(await visitors.list(1, { email: null, limit: 10 })),
        ids(await visitors.list(1, { updatedSinceMs: T0 + 10, limit: 10 })),
        ids(await visitors.list(1, { updatedSinceMs: T0 + 10_000, limit: 10 })),
        ids(await visitors.list(1, { segmentId: vip.id, limit: 10 })),
        // Another site's segment (its member is that site's visitor) finds none of this site's.
        ids(await visitors.list(1, { segmentId: other.id, limit: 10 })),
        ids(await visitors.list(1, { segmentId: 999, limit: 10 })),
        ids(await visitors.list(1, { segmentId: vip.id, email: 'ADA@new.example', updatedSinceMs: T0, limit: 10 })),
        ids(await visitors.list(1, { segmentId: vip.id, after: { lastSeenMs: T0 + 60_000, id: 4 }, limit: 1 })),
      ]
    })
    const [ada, adaCased, umlautLower, umlautUpper, nobody, empty, all] = answers as number[][]
    expect(ada).toEqual(adaCased as number[])
    expect(ada).toHaveLength(1)
    expect(umlautLower).toHaveLength(1)
    expect(umlautUpper).toHaveLength(1)
    expect(umlautUpper).not.toEqual(umlautLower as number[])
    expect([nobody, empty]).toEqual([[], []])
    expect((all as number[]).length).toBeGreaterThan(5)
    expect(answers[12]).toEqual(ada as number[])
  })

  test('remove: the deleted id, null for other site or unknown key, events and memberships go with it', async () => {
    await same(async ({ visitors, events, segments }) => {
      await events.insert(1, 3, 'page_view', '{}', 'ev-unicode', T0, T0)
      return [
        await visitors.remove(2, 'ünïcødé-ключ-🙂'),
        await visitors.remove(1, 'nope'),
        await visitors.remove(1, 'ünïcødé-ключ-🙂'),
        await visitors.remove(1, 'ünïcødé-ключ-🙂'),
        await events.recent(3, 10),
        await events.byEventId(1, 'ev-unicode'),
        await segments.memberships(3),
        await visitors.allIds(1),
      ]
    })
  })

  // Last: a failed insert burns an identity value on PostgreSQL (sequences never roll back) and
  // none on SQLite, so ids allocated after it would differ.
  test('a duplicate key in one site is a unique violation on both engines', async () => {
    for (const r of [sqlite, pg]) await expect(r.visitors.insert(1, 'user_1', null, null, '{}', T0)).rejects.toThrow()
  })
})
