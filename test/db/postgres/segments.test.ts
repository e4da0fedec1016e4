/** The segments repository: PostgreSQL answers what SQLite answers, step by step. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { AsyncRepo } from '../../../src/db/async-repo'
import { createPostgresSegmentRepo } from '../../../src/db/postgres/segments'
import { createPostgresSiteRepo } from '../../../src/db/postgres/sites'
import { createPostgresVisitorRepo } from '../../../src/db/postgres/visitors'
import type { MembershipRow, SegmentRepo, SegmentRow, VisitorRepo } from '../../../src/db/rows'
import { asAsync, type Engines, expectSame, openEngines } from './engines'
import { TEST_DATABASE_URL } from './harness'

interface Repos {
  segments: AsyncRepo<SegmentRepo>
  visitors: AsyncRepo<VisitorRepo>
}

const T0 = 1_700_000_000_000
const PRO = '{"all":[{"attribute":"plan","op":"eq","value":"pro"}]}'
const ACTIVE = '{"any":[{"event":"page_view","count":{"gte":3},"within_days":7}]}'

describe.skipIf(!TEST_DATABASE_URL)('segments on both engines', () => {
  let e: Engines
  let sqlite: Repos
  let pg: Repos
  /** Runs `script` on SQLite, then on PostgreSQL, and expects the same answers. */
  const same = (script: (r: Repos) => Promise<unknown[]>) => expectSame(sqlite, pg, script)

  beforeAll(async () => {
    e = await openEngines()
    sqlite = { segments: asAsync(e.sqlite.segments), visitors: asAsync(e.sqlite.visitors) }
    pg = { segments: createPostgresSegmentRepo(e.pg), visitors: createPostgresVisitorRepo(e.pg) }
    for (const [sites, visitors] of [
      [asAsync(e.sqlite.sites), sqlite.visitors],
      [createPostgresSiteRepo(e.pg), pg.visitors],
    ] as const) {
      await sites.insert('one', 'free', null, 'pk_one', T0)
      await sites.insert('two', 'free', null, 'pk_two', T0)
      for (let i = 1; i <= 5; i++) await visitors.insert(1, `v${i}`, null, null, '{}', T0) // ids 1-5, site 1
      await visitors.insert(2, 'w1', null, null, '{}', T0) // id 6, site 2
    }
  })
  afterAll(() => e?.close())

  test('insert, list, listCached, get, byName: other site, not found, unicode names, name case', async () => {
    const answers = await same(async ({ segments }) => [
      await segments.insert(1, 'Pro plan', PRO, T0),
      await segments.insert(1, 'Active 🔥 visitors', ACTIVE, T0 + 1),
      await segments.insert(2, 'Pro plan', PRO, T0 + 2),
      await segments.insert(1, 'Empty', '{"any":[{"attribute":"x","op":"exists"}]}', T0 + 3),
      await segments.list(1),
      await segments.list(2),
      await segments.list(3),
      await segments.listCached(1),
      await segments.get(1, 2),
      await segments.get(2, 2),
      await segments.get(1, 999),
      await segments.byName(1, 'Active 🔥 visitors'),
      await segments.byName(1, 'pro plan'),
      await segments.byName(2, 'Pro plan'),
      await segments.byName(3, 'Pro plan'),
    ])
    expect(answers[0]).toEqual({ id: 1, site_id: 1, name: 'Pro plan', rule: PRO, created_ms: T0, updated_ms: T0 })
    expect((answers[4] as SegmentRow[]).map((s) => s.id)).toEqual([1, 2, 4])
    expect(answers.slice(12)).toEqual([null, expect.anything(), null])
  })

  test('listCached sees a write at once (no cache on PostgreSQL, SQLite drops its own); forget is harmless', async () => {
    await same(async ({ segments }) => [
      await segments.listCached(1),
      await segments.update(1, 4, 'Empty (renamed)', '{"any":[]}', T0 + 10),
      await segments.listCached(1),
      await segments.forget(),
      await segments.listCached(1),
    ])
  })

  test('update: changes name, rule and updated time; other site and unknown id are null', async () => {
    await same(async ({ segments }) => [
      await segments.update(1, 1, 'Pro', ACTIVE, T0 + 20),
      await segments.update(2, 1, 'Hijack', PRO, T0 + 20),
      await segments.update(1, 999, 'Nope', PRO, T0 + 20),
      await segments.get(1, 1),
      await segments.get(2, 3),
    ])
  })

  test('memberships: add (idempotent, first entry time kept), remove, ids, counts, names joined', async () => {
    const answers = await same(async ({ segments }) => {
      // Memberships made out of segment-id order, as time goes: segment 4 first, then 2, then 1.
      await segments.addMember(4, 1, T0 + 100)
      await segments.addMember(2, 1, T0 + 200)
      await segments.addMember(1, 1, T0 + 300)
      await segments.addMember(1, 1, T0 + 999) // already in: keeps T0 + 300
      await segments.addMember(1, 3, T0 + 300)
      await segments.addMember(1, 2, T0 + 300)
      await segments.addMember(2, 5, T0 + 300)
      await segments.addMember(3, 6, T0 + 300)
      return [
        await segments.segmentIdsOf(1),
        await segments.memberships(1),
        await segments.memberIds(1),
        await segments.memberCount(1),
        await segments.memberCount(2),
        await segments.memberCount(999),
        await segments.memberIds(999),
        await segments.segmentIdsOf(999),
        await segments.memberships(999),
        await segments.removeMember(2, 1),
        await segments.removeMember(2, 1),
        await segments.removeMember(999, 1),
        await segments.segmentIdsOf(1),
        await segments.memberships(1),
        await segments.memberCount(2),
        // Left and entered again: a new entry time, and the membership now comes last.
        await segments.addMember(2, 1, T0 + 400),
        await segments.segmentIdsOf(1),
        await segments.memberships(1),
      ]
    })
    expect(answers[0]).toEqual([4, 2, 1])
    expect(answers[1]).toEqual([
      { segment_id: 1, name: 'Pro', entered_ms: T0 + 300 },
      { segment_id: 2, name: 'Active 🔥 visitors', entered_ms: T0 + 200 },
      { segment_id: 4, name: 'Empty (renamed)', entered_ms: T0 + 100 },
    ] satisfies MembershipRow[])
    expect(answers[2]).toEqual([1, 2, 3])
    expect(answers[3]).toBe(3)
    expect(answers[16]).toEqual([4, 1, 2])
  })

  test('remove: true once, false for other site or unknown; memberships go with the segment', async () => {
    await same(async ({ segments }) => [
      await segments.remove(2, 1),
      await segments.remove(1, 999),
      await segments.remove(1, 1),
      await segments.remove(1, 1),
      await segments.memberIds(1),
      await segments.memberCount(1),
      await segments.segmentIdsOf(1),
      await segments.memberships(3),
      await segments.list(1),
    ])
  })

  // Last: failed inserts burn identity values on PostgreSQL and none on SQLite.
  test('a duplicate name within a site, or a membership of an unknown visitor, is refused by both engines', async () => {
    for (const r of [sqlite, pg]) {
      await expect(r.segments.insert(1, 'Active 🔥 visitors', PRO, T0)).rejects.toThrow()
      await expect(r.segments.addMember(2, 999, T0)).rejects.toThrow()
    }
  })
})
