/** Event counting for segment rules: capped, by name and time, the same with any cap. */
import { afterAll, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { openSqliteStore } from '../../../src/db/sqlite/store'
import { tempDir } from '../../helpers'

const dir = tempDir('mlc-events-')
const store = openSqliteStore(dir)
afterAll(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

test('count stops at the cap, filters by name and time, for literal and bound caps alike', async () => {
  const site = await store.sites.insert('s', 'free', null, 'pk_test', 0)
  const v = await store.visitors.insertTracked(site.id, 'u_1', 1000, 1000)
  for (let i = 0; i < 5; i++) await store.visitorEvents.insert(site.id, v.id, 'viewed', '{}', null, 1000 + i, 1000)
  await store.visitorEvents.insert(site.id, v.id, 'other', '{}', null, 1000, 1000)
  const count = (name: string, since: number, cap: number) => store.visitorEvents.count(v.id, name, since, cap)
  // Caps up to 1001 are written into the SQL (one statement each); larger ones are bound.
  expect(await Promise.all([count('viewed', 0, 1), count('viewed', 0, 3), count('viewed', 0, 5), count('viewed', 0, 6)])).toEqual([1, 3, 5, 5])
  expect(await Promise.all([count('viewed', 0, 1001), count('viewed', 0, 1002), count('viewed', 0, 1_000_000)])).toEqual([5, 5, 5])
  expect(await Promise.all([count('viewed', 1003, 10), count('viewed', 1003, 5000), count('viewed', 2000, 10)])).toEqual([2, 2, 0])
  expect(await Promise.all([count('other', 0, 3), count('missing', 0, 3), count('viewed', 0, 0)])).toEqual([1, 0, 0])
  expect(await store.segments.segmentIdsOf(v.id)).toEqual([])
})
