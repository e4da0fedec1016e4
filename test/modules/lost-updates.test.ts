/**
 * No lost updates (runs on SQLite and, in npm test's second pass, on PostgreSQL at READ COMMITTED).
 * Each case interleaves deterministically: a transaction of the test takes the resource's lock
 * (the very key the service takes, from src/db/lock-keys.ts), changes one field of the row and
 * stays open; a PATCH of another field is sent and must not answer meanwhile; the holder commits;
 * the PATCH's answer and the stored row must carry both changes. Without the service taking the
 * lock before its read, PostgreSQL lets the PATCH read the old row, wait on the row lock, and
 * write the old value of the holder's field back: a 200 that undid a committed change.
 *
 * Then what the same lock guards besides merges (a retry passing a deactivation by), and on
 * PostgreSQL a PATCH stuck behind a lock past the statement timeout: 503, not 500.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { splitPassages } from '../../src/chat/passages'
import { chatSettingsLock, kbArticleLock, segmentLock, siteLock, starterLock, tagLock, webhookSubscriptionLock } from '../../src/db/lock-keys'
import { openPostgres } from '../../src/db/postgres/connection'
import { postgresStoreOver } from '../../src/db/postgres/store'
import type { TxStore } from '../../src/db/store'
import { updateSite } from '../../src/modules/sites/service'
import { enqueueEvent } from '../../src/webhooks/enqueue'
import { holdLock, settlesWithin } from '../db/lock-holder'
import { freshPostgresDatabase, type TestDatabase } from '../db/postgres/harness'
import { createTestApp, expectError, TEST_ENGINE, type TestApp } from '../helpers'

/** How long a PATCH behind a held lock is watched for an answer it must not give. */
const BLOCKED_MS = 200

interface MergeCase {
  name: string
  /** Creates the resource; answers its id (0 for per-site resources). */
  create(t: TestApp): Promise<number>
  lock(t: TestApp, id: number): string
  /** The concurrent change the holder makes (one field). */
  change(tx: TxStore, t: TestApp, id: number): Promise<unknown>
  patch(id: number): { path: string; body: Record<string, unknown> }
  /** What the PATCH answers and GET then shows: both fields changed. */
  expected: Record<string, unknown>
  get(id: number): string
}

const cases: MergeCase[] = [
  {
    name: 'tags: a rename and a color change',
    async create(t) {
      return (await t.call('POST', '/v1/tags', { body: { name: 'vip', color: '#111111' } })).body.data.id
    },
    lock: (t, id) => tagLock(t.site1, id),
    change: (tx, t, id) => tx.tags.update(t.site1, id, 'renamed', '#111111'),
    patch: (id) => ({ path: `/v1/tags/${id}`, body: { color: '#222222' } }),
    expected: { name: 'renamed', color: '#222222' },
    get: (id) => `/v1/tags/${id}`,
  },
  {
    name: 'webhook subscriptions: new events and a new description',
    async create(t) {
      return (await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'http://127.0.0.1:9/hook', events: ['handoff'] } })).body.data.id
    },
    lock: (t, id) => webhookSubscriptionLock(t.site1, id),
    async change(tx, t, id) {
      const row = await tx.webhooks.getSubscription(t.site1, id)
      if (!row) throw new Error('no subscription')
      const f = { url: row.url, events: JSON.stringify(['feedback']), description: row.description, active: true, disabledReason: null }
      return tx.webhooks.updateSubscription(t.site1, id, f, t.clock.now())
    },
    patch: (id) => ({ path: `/v1/webhook_subscriptions/${id}`, body: { description: 'CRM sync' } }),
    expected: { events: ['feedback'], description: 'CRM sync', active: true },
    get: (id) => `/v1/webhook_subscriptions/${id}`,
  },
  {
    name: 'conversation starters: a new prompt and disabled',
    async create(t) {
      return (await t.call('POST', '/v1/conversation_starters', { body: { prompt: 'Pricing?' } })).body.data.id
    },
    lock: (t, id) => starterLock(t.site1, id),
    change: (tx, t, id) => tx.starters.update(t.site1, id, 'What does it cost?', 0, true),
    patch: (id) => ({ path: `/v1/conversation_starters/${id}`, body: { enabled: false } }),
    expected: { prompt: 'What does it cost?', position: 0, enabled: false },
    get: (id) => `/v1/conversation_starters/${id}`,
  },
  {
    name: 'segments: a rename and a new rule',
    async create(t) {
      const rule = { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }] }
      return (await t.call('POST', '/v1/segments', { body: { name: 'Pro', rule } })).body.data.id
    },
    lock: (t, id) => segmentLock(t.site1, id),
    async change(tx, t, id) {
      const row = await tx.segments.get(t.site1, id)
      if (!row) throw new Error('no segment')
      return tx.segments.update(t.site1, id, 'Pro customers', row.rule, t.clock.now())
    },
    patch: (id) => ({ path: `/v1/segments/${id}`, body: { rule: { any: [{ attribute: 'email', op: 'exists' }] } } }),
    expected: { name: 'Pro customers', rule: { any: [{ attribute: 'email', op: 'exists' }] } },
    get: (id) => `/v1/segments/${id}`,
  },
  {
    name: 'knowledge-base articles: a new title and a new body',
    async create(t) {
      return (await t.call('POST', '/v1/kb_articles', { body: { title: 'Refunds', body: 'Within 30 days.' } })).body.data.id
    },
    lock: (t, id) => kbArticleLock(t.site1, id),
    change: (tx, t, id) => tx.kb.update(t.site1, id, 'Refund policy', 'Within 30 days.', splitPassages('Within 30 days.'), t.clock.now()),
    patch: (id) => ({ path: `/v1/kb_articles/${id}`, body: { body: 'Within 60 days, no questions asked.' } }),
    expected: { title: 'Refund policy', body: 'Within 60 days, no questions asked.' },
    get: (id) => `/v1/kb_articles/${id}`,
  },
  {
    name: 'chat settings: max_bot_replies and min_confidence (the first save of the site creates the row)',
    create: async () => 0,
    lock: (t) => chatSettingsLock(t.site1),
    async change(tx, t) {
      return tx.chat.saveSettings(t.site1, 7, 0.35, t.clock.now())
    },
    patch: () => ({ path: '/v1/chat_settings', body: { min_confidence: 0.9 } }),
    expected: { max_bot_replies: 7, min_confidence: 0.9 },
    get: () => '/v1/chat_settings',
  },
]

describe('concurrent PATCHes of one resource keep both changes', () => {
  let t: TestApp
  beforeEach(async () => {
    t = await createTestApp({ MLC_WEBHOOK_ALLOW_PRIVATE: '1' })
  })
  afterEach(() => t.cleanup())

  for (const c of cases) {
    test(c.name, async () => {
      const id = await c.create(t)
      const holder = await holdLock(t.store, c.lock(t, id), (tx) => c.change(tx, t, id))
      const { path, body } = c.patch(id)
      const patch = t.call('PATCH', path, { body })
      try {
        expect(await settlesWithin(patch, BLOCKED_MS)).toBe(false)
      } finally {
        holder.release()
        await holder.done
      }
      const res = await patch
      expect(res.status).toBe(200)
      expect(res.body.data).toMatchObject(c.expected)
      expect((await t.call('GET', c.get(id))).body.data).toMatchObject(c.expected)
    })
  }

  test('sites: a plan change and a rename (updateSite, as the dashboard and the CLI call it)', async () => {
    const holder = await holdLock(t.store, siteLock(t.site1), (tx) => tx.sites.update(t.site1, { name: 'Site one', plan: 'growth', rate_limit: null }))
    const renamed = updateSite(t.store, t.site1, { name: 'Renamed' })
    try {
      expect(await settlesWithin(renamed, BLOCKED_MS)).toBe(false)
    } finally {
      holder.release()
      await holder.done
    }
    expect(await renamed).toMatchObject({ name: 'Renamed', plan: 'growth' })
    expect(await t.store.sites.byId(t.site1)).toMatchObject({ name: 'Renamed', plan: 'growth' })
  })

  test('site settings: turning verification on while the secret is rotated creates no second secret', async () => {
    const holder = await holdLock(t.store, siteLock(t.site1), (tx) => tx.siteIdentity.setSecret(t.site1, 'mlcid_rotated_meanwhile'))
    const patch = t.call('PATCH', '/v1/site_settings', { body: { identity_required: true } })
    try {
      expect(await settlesWithin(patch, BLOCKED_MS)).toBe(false)
    } finally {
      holder.release()
      await holder.done
    }
    const res = await patch
    expect(res.status).toBe(200)
    // The secret rotated meanwhile is kept: none is minted (and none shown) by the PATCH.
    expect(res.body.data).toEqual({ identity_required: true, identity_secret_set: true, publishable_key: expect.any(String) })
    expect((await t.store.siteIdentity.get(t.site1))?.identity_secret).toBe('mlcid_rotated_meanwhile')
  })

  test('a retry waiting behind a deactivation of its subscription answers 409 and requeues nothing', async () => {
    const sub = (await t.call('POST', '/v1/webhook_subscriptions', { body: { url: 'http://127.0.0.1:9/hook', events: ['*'] } })).body.data.id
    const { deliveryIds } = await t.store.transaction((tx) => enqueueEvent(tx, t.clock, { siteId: t.site1, type: 'ping', payload: {}, subscriptionId: sub }))
    const delivery = deliveryIds[0] as string
    // What a PATCH {active:false} does, under the subscription's lock: deactivate, dead-letter what is queued.
    const holder = await holdLock(t.store, webhookSubscriptionLock(t.site1, sub), async (tx) => {
      const row = await tx.webhooks.getSubscription(t.site1, sub)
      if (!row) throw new Error('no subscription')
      const now = t.clock.now()
      await tx.webhooks.updateSubscription(
        t.site1,
        sub,
        { url: row.url, events: row.events, description: row.description, active: false, disabledReason: 'manual' },
        now,
      )
      await tx.webhooks.deadLetterPending(sub, 'subscription deactivated', now)
    })
    const retry = t.call('POST', `/v1/webhook_deliveries/${delivery}?action=retry`)
    try {
      expect(await settlesWithin(retry, BLOCKED_MS)).toBe(false)
    } finally {
      holder.release()
      await holder.done
    }
    expectError(await retry, 409, 'conflict', 'id')
    expect((await t.call('GET', `/v1/webhook_deliveries/${delivery}`)).body.data.status).toBe('dead')
  })

  // SQLite runs one write transaction at a time whatever the key; PostgreSQL serialises per key only.
  test.if(TEST_ENGINE === 'postgres')('PostgreSQL: the lock of one tag holds up neither a PATCH of another nor reads of the same one', async () => {
    const a = (await t.call('POST', '/v1/tags', { body: { name: 'a' } })).body.data.id
    const b = (await t.call('POST', '/v1/tags', { body: { name: 'b' } })).body.data.id
    const holder = await holdLock(t.store, tagLock(t.site1, a))
    try {
      expect((await t.call('PATCH', `/v1/tags/${b}`, { body: { color: '#333333' } })).body.data.color).toBe('#333333')
      expect((await t.call('GET', `/v1/tags/${a}`)).body.data.name).toBe('a')
    } finally {
      holder.release()
      await holder.done
    }
  })
})

describe.skipIf(TEST_ENGINE !== 'postgres')('PostgreSQL: waiting for a lock past the statement timeout', () => {
  let db: TestDatabase
  let t: TestApp
  beforeEach(async () => {
    db = await freshPostgresDatabase()
    // The app's own pool times statements out after 400 ms (MLC_DATABASE_STATEMENT_TIMEOUT_MS), the lock wait included.
    const pool = openPostgres({ url: db.url, poolSize: 4, statementTimeoutMs: 400, prepare: true })
    t = await createTestApp({}, { store: () => postgresStoreOver(pool) })
  })
  afterEach(async () => {
    await t.cleanup()
    await db.drop()
  })

  test('answers 503 unavailable in the envelope, not 500; the same PATCH works once the lock is free', async () => {
    const id = (await t.call('POST', '/v1/tags', { body: { name: 'slow' } })).body.data.id
    const holder = await holdLock(t.store, tagLock(t.site1, id))
    try {
      const started = performance.now()
      const res = await t.call('PATCH', `/v1/tags/${id}`, { body: { color: '#444444' } })
      expectError(res, 503, 'unavailable')
      expect(performance.now() - started).toBeGreaterThanOrEqual(350)
    } finally {
      holder.release()
      await holder.done
    }
    const again = await t.call('PATCH', `/v1/tags/${id}`, { body: { color: '#444444' } })
    expect(again.status).toBe(200)
    expect(again.body.data).toMatchObject({ name: 'slow', color: '#444444' })
  })
})
