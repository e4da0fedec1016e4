/**
 * TxStore.lock on PostgreSQL, what the engine-neutral test (test/db/store-lock.test.ts) cannot
 * see: the documented key (SHA-256, first 8 bytes, signed big-endian), so instances of different
 * releases exclude each other; a lock held by another instance (its own pool) is waited for; a
 * savepoint rolled back lets its lock go; and a wait cut short by the statement timeout or by
 * withoutWaiting's lock timeout arrives as StorageUnavailableError (what the API answers 503 for);
 * and the webhook worker disabling a gone endpoint waits for a PATCH of that subscription in flight.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import type { SQL } from 'bun'
import { StorageUnavailableError } from '../../../src/db/errors'
import { webhookSubscriptionLock } from '../../../src/db/lock-keys'
import { advisoryLockKey } from '../../../src/db/postgres/advisory-lock'
import { openPostgres } from '../../../src/db/postgres/connection'
import { postgresStoreOver } from '../../../src/db/postgres/store'
import type { ClaimLimits } from '../../../src/db/rows'
import type { Store } from '../../../src/db/store'
import { holdLock, settlesWithin } from '../lock-holder'
import { freshPostgresDatabase, TEST_DATABASE_URL, type TestDatabase } from './harness'

describe('advisoryLockKey', () => {
  test('is SHA-256 of the name, first 8 bytes as a signed big-endian 64-bit integer', () => {
    for (const name of ['tags:1:2', 'webhook_subscriptions:7', 'sites:1', 'ünïcode:1', '']) {
      const hex = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 16)
      expect(advisoryLockKey(name)).toBe(BigInt.asIntN(64, BigInt(`0x${hex}`)).toString())
    }
  })

  test('is pinned: a later release must derive the same key, or two versions side by side would not exclude each other', () => {
    expect(advisoryLockKey('tags:1:2')).toBe('2162973304722253572')
    // A digest starting with a byte of 0x80 or more is a negative key (bigint is signed).
    expect(advisoryLockKey('sites:1')).toBe('-8208303512161252059')
    expect(advisoryLockKey('tags:1:2')).not.toBe(advisoryLockKey('tags:1:3'))
    expect(advisoryLockKey('webhook_subscriptions:1')).not.toBe(advisoryLockKey('webhook_subscriptions:1:1'))
  })
})

describe.skipIf(!TEST_DATABASE_URL)('TxStore.lock on PostgreSQL', () => {
  let db: TestDatabase
  let otherPool: SQL
  let shortPool: SQL
  let store: Store
  /** A store whose statements (the lock wait included) time out after 300 ms. */
  let impatient: Store
  beforeAll(async () => {
    db = await freshPostgresDatabase()
    otherPool = openPostgres({ url: db.url, poolSize: 2, statementTimeoutMs: 30_000, prepare: true })
    shortPool = openPostgres({ url: db.url, poolSize: 2, statementTimeoutMs: 300, prepare: true })
    store = postgresStoreOver(db.sql)
    impatient = postgresStoreOver(shortPool)
  })
  afterAll(async () => {
    await otherPool?.close()
    await shortPool?.close()
    await db?.drop()
  })

  test('held by another instance under the documented key, the lock is waited for and then granted', async () => {
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    let locked: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      locked = resolve
    })
    // Another process's pool, taking the key the way the documentation says, not through our code.
    const hex = createHash('sha256').update('sites:42').digest('hex').slice(0, 16)
    const other = otherPool.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${BigInt.asIntN(64, BigInt(`0x${hex}`)).toString()}::bigint)`
      locked()
      await released
    })
    await held
    const waiting = store.transaction((tx) => tx.lock('sites:42'))
    try {
      expect(await settlesWithin(waiting, 300)).toBe(false)
      // The waiting session shows in pg_locks as an advisory lock not granted.
      const [row] = await otherPool`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`
      expect(row.n).toBe(1)
    } finally {
      release()
      await other
    }
    expect(await settlesWithin(waiting, 5000)).toBe(true)
  })

  test('taken in a savepoint that rolls back, the lock is let go; in one that is released, it is kept', async () => {
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    let checked: () => void = () => {}
    const done = new Promise<void>((resolve) => {
      checked = resolve
    })
    const outer = store.transaction(async (tx) => {
      await tx.transaction((sp) => sp.lock('kb_articles:1:1').then(() => Promise.reject(new Error('undo')))).catch(() => {})
      await tx.transaction((sp) => sp.lock('kb_articles:1:2'))
      checked()
      await released
    })
    await done
    const kept = store.transaction((tx) => tx.lock('kb_articles:1:2'))
    try {
      expect(
        await settlesWithin(
          impatient.transaction((tx) => tx.lock('kb_articles:1:1')),
          2000,
        ),
      ).toBe(true)
      expect(await settlesWithin(kept, 300)).toBe(false)
    } finally {
      release()
      await outer
    }
    await kept
  })

  test('a wait past the statement timeout rejects with StorageUnavailableError (timeout); the holder is unharmed', async () => {
    const holder = await holdLock(store, 'tags:1:1', (tx) => tx.meta.set('holder', 'wrote'))
    try {
      const started = performance.now()
      const err = await impatient.transaction((tx) => tx.lock('tags:1:1')).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StorageUnavailableError)
      expect((err as StorageUnavailableError).reason).toBe('timeout')
      expect(performance.now() - started).toBeGreaterThanOrEqual(250)
    } finally {
      holder.release()
      await holder.done
    }
    expect(await store.meta.get('holder')).toBe('wrote')
    // Free again: the same impatient store takes it at once.
    expect(
      await settlesWithin(
        impatient.transaction((tx) => tx.lock('tags:1:1')),
        2000,
      ),
    ).toBe(true)
  })

  test('withoutWaiting: a held lock fails fast with a retryable StorageUnavailableError (conflict)', async () => {
    const holder = await holdLock(store, 'chat_settings:1')
    try {
      const err = await store.withoutWaiting((tx) => tx.lock('chat_settings:1')).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StorageUnavailableError)
      expect((err as StorageUnavailableError).retryable).toBe(true)
    } finally {
      holder.release()
      await holder.done
    }
  })

  test('the worker disabling a gone endpoint waits for a PATCH that has read the subscription, so the PATCH cannot write active back', async () => {
    const T = 1_700_000_000_000
    const site = await store.sites.insert('Gone site', 'free', null, 'pk_gone', T)
    const sub = await store.webhooks.insertSubscription(site.id, 'https://gone.example/', '["*"]', 'before', 'whsec_gone', T)
    await store.webhooks.insertEvent('evt_gone', site.id, 'handoff', '{"id":"evt_gone"}', T)
    await store.webhooks.insertDelivery('dlv_gone', site.id, sub.id, 'evt_gone', 'handoff', T)
    const limits: ClaimLimits = { max: 5, perSubscription: 2, leaseMs: 60_000, onlySubscriptions: null }
    const [claimed] = (await store.webhooks.recordAndClaim([], T + 10, limits)).claimed
    if (!claimed) throw new Error('nothing claimed')

    // A PATCH {description} in flight: it holds the subscription's lock and has read the row (active).
    let write: () => void = () => {}
    const writeNow = new Promise<void>((resolve) => {
      write = resolve
    })
    let read: () => void = () => {}
    const hasRead = new Promise<void>((resolve) => {
      read = resolve
    })
    const patch = store.transaction(async (tx) => {
      await tx.lock(webhookSubscriptionLock(site.id, sub.id))
      const current = await tx.webhooks.getSubscription(site.id, sub.id)
      if (!current) throw new Error('no subscription')
      read()
      await writeNow
      const f = { url: current.url, events: current.events, description: 'patched', active: current.active === 1, disabledReason: current.disabled_reason }
      return tx.webhooks.updateSubscription(site.id, sub.id, f, T + 15)
    })
    await hasRead
    // The endpoint answered 410 Gone: the worker records it and disables the subscription.
    const record = {
      seq: claimed.seq,
      number: 1,
      url: 'https://gone.example/',
      atMs: T + 20,
      durationMs: 5,
      statusCode: 410,
      error: 'http_status',
      errorMessage: null,
      requestHeaders: '{}',
      responseBody: null,
      status: 'dead' as const,
      nextAttemptMs: null,
    }
    const cycle = store.webhooks.recordAndClaim([{ record, subscriptionId: sub.id, gone: true }], T + 20, limits)
    try {
      expect(await settlesWithin(cycle, 300)).toBe(false)
    } finally {
      write()
    }
    expect((await patch)?.description).toBe('patched')
    expect((await cycle).deactivated).toEqual([{ subscriptionId: sub.id, deadLettered: 0 }])
    expect(await store.webhooks.getSubscription(site.id, sub.id)).toMatchObject({ description: 'patched', active: 0, disabled_reason: 'gone' })
  })
})
