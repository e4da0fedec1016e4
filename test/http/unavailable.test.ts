/**
 * Storage trouble: a full disk (simulated with PRAGMA max_page_count) and a database locked by
 * another process answer 503 `unavailable` in the envelope, the server keeps serving, and it
 * recovers as soon as space returns or the lock is released. Counters are not lost meanwhile.
 */

import { Database } from 'bun:sqlite'
import { afterEach, describe, expect, test } from 'bun:test'
import { databasePath } from '../../src/db/open'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
afterEach(() => t?.cleanup())

/** Caps the database at its current size, as a full disk would. Returns the cap lifter. */
function fillDisk(db: Database): () => void {
  const pages = db.query<{ page_count: number }, []>('PRAGMA page_count').get()?.page_count ?? 0
  db.exec(`PRAGMA max_page_count = ${pages}`)
  return () => db.exec('PRAGMA max_page_count = 1073741823')
}

describe('disk full', () => {
  test('writes answer 503 unavailable, reads keep working, and writes succeed once space returns', async () => {
    t = createTestApp()
    const freeSpace = fillDisk(t.store.db)
    // Enough rows to need new pages: each tag is small, so write until the cap bites.
    let full: Awaited<ReturnType<TestApp['call']>> | null = null
    for (let i = 0; i < 500 && !full; i++) {
      const res = await t.call('POST', '/v1/tags', { body: { name: `tag-${i}-${'x'.repeat(60)}`.slice(0, 50), color: '#2563eb' } })
      if (res.status !== 201) full = res
    }
    expect(full).not.toBeNull()
    expectError(full!, 503, 'unavailable')
    expect(full!.headers.get('retry-after')).toBe('5')
    expect(full!.body.error.message).toMatch(/temporarily unavailable/)

    const read = await t.call('GET', '/v1/tags?limit=1')
    expect(read.status).toBe(200)

    freeSpace()
    const after = await t.call('POST', '/v1/tags', { body: { name: 'after-space-returns', color: '#2563eb' } })
    expect(after.status).toBe(201)
  })

  test('request counters that cannot be flushed are kept and written once space returns', async () => {
    t = createTestApp()
    for (let i = 0; i < 3; i++) expect((await t.call('GET', '/v1/tags')).status).toBe(200)
    const freeSpace = fillDisk(t.store.db)
    // Grow the token usage table until the cap refuses the flush.
    let failed = false
    for (let day = 0; day < 400 && !failed; day++) {
      t.clock.advance(86_400_000)
      await t.call('GET', '/v1/tags')
      try {
        t.app.usage.flush()
      } catch (err) {
        expect((err as { code?: string }).code).toBe('SQLITE_FULL')
        failed = true
      }
    }
    expect(failed).toBe(true)
    freeSpace()
    t.app.usage.flush()
    const row = t.store.db.query<{ request_count: number }, []>("SELECT request_count FROM api_tokens WHERE name = 'writer'").get()
    const answered = t.store.db.query<{ n: number }, []>('SELECT SUM(count) AS n FROM token_daily_usage').get()?.n
    expect(row?.request_count).toBe(answered ?? -1)
    expect(row?.request_count).toBeGreaterThan(3)
  })
})

describe('database locked by another process', () => {
  test('a write waiting past the busy timeout answers 503; after the lock is released writes succeed', async () => {
    t = createTestApp()
    // The usual timeout is 5 s; a short one keeps the test quick and exercises the same path.
    t.store.db.exec('PRAGMA busy_timeout = 100')
    const other = new Database(databasePath(t.dataDir))
    other.exec('BEGIN EXCLUSIVE')
    try {
      const res = await t.call('POST', '/v1/tags', { body: { name: 'while-locked', color: '#2563eb' } })
      expectError(res, 503, 'unavailable')
      // Reads go on in WAL mode while another connection holds the write lock.
      expect((await t.call('GET', '/v1/tags')).status).toBe(200)
    } finally {
      other.exec('ROLLBACK')
      other.close()
    }
    const res = await t.call('POST', '/v1/tags', { body: { name: 'while-locked', color: '#2563eb' } })
    expect(res.status).toBe(201)
  })
})
