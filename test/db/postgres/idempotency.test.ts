/** The idempotency repository: PostgreSQL answers what SQLite answers. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createPostgresIdempotencyRepo } from '../../../src/db/postgres/idempotency'
import type { IdempotencyClaim } from '../../../src/db/rows'
import { asAsync, type Engines, expectSame, openEngines, seedTwoSites } from './engines'
import { TEST_DATABASE_URL } from './harness'

const claim = (over: Partial<IdempotencyClaim> = {}): IdempotencyClaim => ({
  siteId: 1,
  scope: 'token',
  key: 'k1',
  fingerprint: 'fp1',
  requestId: 'req_1',
  nowMs: 1_000_000,
  ...over,
})
const response = { status: 201, type: 'application/json;charset=utf-8', body: '{"ok":true,"data":{"id":1},"request_id":"req_1"}' }

describe.skipIf(!TEST_DATABASE_URL)('idempotency keys on both engines', () => {
  let e: Engines
  beforeAll(async () => {
    e = await openEngines()
    await seedTwoSites(e)
  })
  afterAll(() => e?.close())

  test('claim, conflict, complete, take-over of expired and abandoned claims, release, prune', async () => {
    const answers = await expectSame(asAsync(e.sqlite.idempotency), createPostgresIdempotencyRepo(e.pg), async (repo) => [
      await repo.claim(claim()),
      // The same (site, scope, key) again: the row is there already.
      await repo.claim(claim({ requestId: 'req_2', fingerprint: 'fp2' })),
      // Another site, another scope: other keys.
      await repo.claim(claim({ siteId: 2 })),
      await repo.claim(claim({ scope: 'publishable' })),
      await repo.get(1, 'token', 'k1'),
      await repo.get(1, 'token', 'nope'),
      // Only the holder completes, once.
      await repo.complete(1, 'token', 'k1', 'req_other', response),
      await repo.complete(1, 'token', 'k1', 'req_1', response),
      await repo.complete(1, 'token', 'k1', 'req_1', { ...response, status: 500 }),
      await repo.get(1, 'token', 'k1'),
      // A completed key is not abandoned, and not expired yet: no take-over.
      await repo.takeOver(claim({ requestId: 'req_3', nowMs: 2_000_000 }), 'req_1', 1_500_000, 999_999),
      // Expired: taken over (the seen holder must match).
      await repo.takeOver(claim({ requestId: 'req_3', nowMs: 2_000_000 }), 'req_wrong', 1_500_000, 1_000_001),
      await repo.takeOver(claim({ requestId: 'req_3', fingerprint: 'fp3', nowMs: 2_000_000 }), 'req_1', 1_500_000, 1_000_001),
      await repo.get(1, 'token', 'k1'),
      // A claim in flight: not while it is younger than the lease; taken over once it is older.
      await repo.takeOver(claim({ siteId: 2, requestId: 'req_4', nowMs: 2_000_000 }), 'req_1', 999_999, 0),
      await repo.takeOver(claim({ siteId: 2, requestId: 'req_4', nowMs: 2_000_000 }), 'req_1', 1_000_001, 0),
      await repo.get(2, 'token', 'k1'),
      // Release drops only the holder's claim in flight.
      await repo.release(2, 'token', 'k1', 'req_1'),
      await repo.release(2, 'token', 'k1', 'req_4'),
      await repo.get(2, 'token', 'k1'),
      await repo.complete(1, 'token', 'k1', 'req_3', response),
      await repo.release(1, 'token', 'k1', 'req_3'),
      // Prune by first use, in batches.
      await repo.claim(claim({ key: 'k2', nowMs: 1_500_000 })),
      await repo.prune(1_600_000, 1),
      await repo.prune(1_600_000, 10),
      await repo.prune(1_600_000, 10),
      await repo.get(1, 'publishable', 'k1'),
      await repo.get(1, 'token', 'k1'),
    ])
    expect(answers.slice(0, 4)).toEqual([true, false, true, true])
    expect(answers[4]).toEqual({
      site_id: 1,
      scope: 'token',
      key: 'k1',
      fingerprint: 'fp1',
      request_id: 'req_1',
      created_ms: 1_000_000,
      response_status: null,
      response_type: null,
      response_body: null,
    })
    expect(answers[9]).toMatchObject({ response_status: 201, response_body: response.body })
    expect(answers.slice(10, 13)).toEqual([false, false, true])
    expect(answers[13]).toMatchObject({ request_id: 'req_3', fingerprint: 'fp3', created_ms: 2_000_000, response_status: null })
    expect(answers.slice(14, 16)).toEqual([false, true])
    expect(answers.slice(17, 19)).toEqual([false, true])
    expect(answers[19]).toBeNull()
    expect(answers.slice(20, 22)).toEqual([true, false])
    expect(answers.slice(22, 26)).toEqual([true, 1, 1, 0])
    expect(answers[26]).toBeNull()
    expect(answers[27]).toMatchObject({ request_id: 'req_3', response_status: 201 })
  })

  test('deleting a site deletes its keys', async () => {
    await expectSame(asAsync(e.sqlite.idempotency), createPostgresIdempotencyRepo(e.pg), async (repo) => [await repo.claim(claim({ siteId: 2, key: 'gone' }))])
    e.sqlite.db.exec('DELETE FROM sites WHERE id = 2')
    await e.pg`DELETE FROM sites WHERE id = 2`
    await expectSame(asAsync(e.sqlite.idempotency), createPostgresIdempotencyRepo(e.pg), async (repo) => [await repo.get(2, 'token', 'gone')])
  })
})
