/** The visitor-events repository: PostgreSQL answers what SQLite answers, step by step. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { AsyncRepo } from '../../../src/db/async-repo'
import { createPostgresSiteRepo } from '../../../src/db/postgres/sites'
import { createPostgresVisitorEventRepo } from '../../../src/db/postgres/visitor-events'
import { createPostgresVisitorRepo } from '../../../src/db/postgres/visitors'
import type { VisitorEventRepo, VisitorEventRow, VisitorRepo } from '../../../src/db/rows'
import { asAsync, type Engines, expectSame, openEngines } from './engines'
import { TEST_DATABASE_URL } from './harness'

interface Repos {
  visitors: AsyncRepo<VisitorRepo>
  events: AsyncRepo<VisitorEventRepo>
}

const T0 = 1_700_000_000_000
const DAY = 86_400_000

describe.skipIf(!TEST_DATABASE_URL)('visitor events on both engines', () => {
  let e: Engines
  let sqlite: Repos
  let pg: Repos
  /** Runs `script` on SQLite, then on PostgreSQL, and expects the same answers. */
  const same = (script: (r: Repos) => Promise<unknown[]>) => expectSame(sqlite, pg, script)

  beforeAll(async () => {
    e = await openEngines()
    sqlite = { visitors: asAsync(e.sqlite.visitors), events: asAsync(e.sqlite.visitorEvents) }
    pg = { visitors: createPostgresVisitorRepo(e.pg), events: createPostgresVisitorEventRepo(e.pg) }
    for (const [sites, visitors] of [
      [asAsync(e.sqlite.sites), sqlite.visitors],
      [createPostgresSiteRepo(e.pg), pg.visitors],
    ] as const) {
      await sites.insert('one', 'free', null, 'pk_one', T0)
      await sites.insert('two', 'free', null, 'pk_two', T0)
      await visitors.insert(1, 'ada', null, null, '{}', T0) // id 1
      await visitors.insert(1, 'anon_x', null, null, '{}', T0) // id 2
      await visitors.insert(2, 'bob', null, null, '{}', T0) // id 3, site 2
    }
  })
  afterAll(() => e?.close())

  test('insert and byEventId: rows with null and unicode, other site, unknown id', async () => {
    const answers = await same(async ({ events }) => [
      await events.insert(1, 1, 'page_view', '{"path":"/pricing"}', 'ev-1', T0 - 3 * DAY, T0),
      await events.insert(1, 1, 'page_view', '{}', null, T0 - DAY, T0 + 1),
      await events.insert(1, 1, 'signup', '{"plan":"pro","note":"ünïcødé 🙂"}', 'ev-2', T0 - DAY, T0 + 2),
      await events.insert(1, 1, 'page_view', '{"path":"/"}', null, T0, T0 + 3),
      // Same occurred time as the event before: recent() breaks the tie by id.
      await events.insert(1, 1, 'page_view', '{"path":"/docs"}', null, T0, T0 + 4),
      await events.insert(1, 2, 'page_view', '{}', 'ev-3', T0 - 2 * DAY, T0 + 5),
      await events.insert(2, 3, 'page_view', '{}', 'ev-1', T0, T0 + 6),
      await events.byEventId(1, 'ev-1'),
      await events.byEventId(2, 'ev-1'),
      await events.byEventId(1, 'ev-404'),
      await events.byEventId(3, 'ev-1'),
    ])
    expect((answers[1] as VisitorEventRow).event_id).toBeNull()
    expect((answers[7] as VisitorEventRow).id).toBe(1)
    expect((answers[8] as VisitorEventRow).id).toBe(7)
  })

  test('recent: newest first, id breaks ties, limits (0, negative = all), unknown visitor', async () => {
    const answers = await same(async ({ events }) => [
      await events.recent(1, 3),
      await events.recent(1, 100),
      await events.recent(1, 0),
      await events.recent(1, -1),
      await events.recent(999, 10),
    ])
    expect((answers[0] as VisitorEventRow[]).map((r) => r.id)).toEqual([5, 4, 3])
  })

  test('count: since bound inclusive, cap stops counting, literal and bound caps, unknown names', async () => {
    const answers = await same(async ({ events }) => [
      await events.count(1, 'page_view', Number.MIN_SAFE_INTEGER, 2),
      await events.count(1, 'page_view', Number.MIN_SAFE_INTEGER, 100),
      await events.count(1, 'page_view', T0 - DAY, 100),
      await events.count(1, 'page_view', T0 - DAY + 1, 100),
      await events.count(1, 'page_view', T0, 1),
      await events.count(1, 'page_view', T0, 0),
      // Caps above 1001 go through SQLite's bound-LIMIT statement; a negative cap counts everything.
      await events.count(1, 'page_view', Number.MIN_SAFE_INTEGER, 5_000_000),
      await events.count(1, 'page_view', Number.MIN_SAFE_INTEGER, -1),
      await events.count(1, 'PAGE_VIEW', Number.MIN_SAFE_INTEGER, 100),
      await events.count(1, 'signup', T0 - DAY, 2),
      await events.count(3, 'page_view', Number.MIN_SAFE_INTEGER, 100),
      await events.count(999, 'page_view', Number.MIN_SAFE_INTEGER, 100),
    ])
    expect(answers.slice(0, 8)).toEqual([2, 4, 3, 2, 1, 0, 4, 4])
  })

  test('a cap that is not an integer is refused by both engines', async () => {
    for (const r of [sqlite, pg]) await expect(r.events.count(1, 'page_view', 0, 2.5)).rejects.toThrow()
  })

  test('reassign: moves a visitor’s events within the site, counts them; other site and no events move none', async () => {
    const answers = await same(async ({ events }) => [
      await events.reassign(2, 2, 1),
      await events.reassign(1, 999, 1),
      await events.reassign(1, 2, 1),
      await events.reassign(1, 2, 1),
      await events.recent(1, 100),
      await events.recent(2, 100),
      await events.byEventId(1, 'ev-3'),
    ])
    expect(answers.slice(0, 4)).toEqual([0, 0, 1, 0])
  })

  // Last: a failed insert burns an identity value on PostgreSQL and none on SQLite.
  test('a repeated event id within a site is a unique violation on both engines', async () => {
    for (const r of [sqlite, pg]) await expect(r.events.insert(1, 1, 'page_view', '{}', 'ev-2', T0, T0)).rejects.toThrow()
  })
})
