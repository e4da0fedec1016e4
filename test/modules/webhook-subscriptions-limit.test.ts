/**
 * The per-site limit of webhook subscriptions (MAX_SUBSCRIPTIONS_PER_SITE) holds under concurrent
 * creates, on SQLite and on PostgreSQL at READ COMMITTED: each create counts under the site's
 * subscriptions lock, so two creates at 49 cannot both see 49.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { siteWebhookSubscriptionsLock } from '../../src/db/lock-keys'
import { MAX_SUBSCRIPTIONS_PER_SITE } from '../../src/modules/webhook_subscriptions/model'
import { holdLock, settlesWithin } from '../db/lock-holder'
import { createTestApp, expectError, type TestApp } from '../helpers'

describe('webhook subscription limit under concurrent creates', () => {
  let t: TestApp
  beforeEach(async () => {
    t = await createTestApp({ MLC_WEBHOOK_ALLOW_PRIVATE: '1' })
  })
  afterEach(() => t.cleanup())

  /** Fills site 1 up to `n` subscriptions, straight through the store. */
  async function fill(n: number) {
    for (let i = 0; i < n; i++) {
      await t.store.webhooks.insertSubscription(t.site1, `http://127.0.0.1:9/hook-${i}`, '["*"]', '', `whsec_seed${i}`, t.clock.now())
    }
  }

  const create = (path = 'concurrent', token?: string) =>
    t.call('POST', '/v1/webhook_subscriptions', { body: { url: `http://127.0.0.1:9/${path}`, events: ['handoff'] }, token })

  test('49 existing, 10 concurrent creates: exactly one is created, nine answer 409, 50 are stored', async () => {
    await fill(MAX_SUBSCRIPTIONS_PER_SITE - 1)
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => create(`c${i}`)))
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1)
    const refused = answers.filter((a) => a.status !== 201)
    expect(refused).toHaveLength(9)
    for (const a of refused) {
      expectError(a, 409, 'conflict')
      expect(a.body.error.message).toBe(`A site can have at most ${MAX_SUBSCRIPTIONS_PER_SITE} webhook subscriptions.`)
    }
    expect(await t.store.webhooks.countSubscriptions(t.site1)).toBe(MAX_SUBSCRIPTIONS_PER_SITE)
    expect((await t.call('GET', '/v1/webhook_subscriptions')).body.data).toHaveLength(MAX_SUBSCRIPTIONS_PER_SITE)
  })

  test('a create counting while another create at 49 is not committed yet waits for it, then answers 409', async () => {
    await fill(MAX_SUBSCRIPTIONS_PER_SITE - 1)
    // The fiftieth, inserted by a create that holds the site's lock and has not committed.
    const holder = await holdLock(t.store, siteWebhookSubscriptionsLock(t.site1), (tx) =>
      tx.webhooks.insertSubscription(t.site1, 'http://127.0.0.1:9/fiftieth', '["*"]', '', 'whsec_fiftieth', t.clock.now()),
    )
    const late = create('late')
    try {
      expect(await settlesWithin(late, 200)).toBe(false)
    } finally {
      holder.release()
      await holder.done
    }
    expectError(await late, 409, 'conflict')
    expect(await t.store.webhooks.countSubscriptions(t.site1)).toBe(MAX_SUBSCRIPTIONS_PER_SITE)
  })

  test('when the create holding the lock rolls back, the waiting one takes the last place', async () => {
    await fill(MAX_SUBSCRIPTIONS_PER_SITE - 1)
    const holder = await holdLock(t.store, siteWebhookSubscriptionsLock(t.site1), (tx) =>
      tx.webhooks.insertSubscription(t.site1, 'http://127.0.0.1:9/undone', '["*"]', '', 'whsec_undone', t.clock.now()),
    )
    const late = create('late')
    try {
      expect(await settlesWithin(late, 200)).toBe(false)
    } finally {
      holder.release({ rollback: true })
      await holder.done
    }
    expect((await late).status).toBe(201)
    expect(await t.store.webhooks.countSubscriptions(t.site1)).toBe(MAX_SUBSCRIPTIONS_PER_SITE)
  })

  test("another site's full quota does not count against this one", async () => {
    await fill(MAX_SUBSCRIPTIONS_PER_SITE)
    expectError(await create('over'), 409, 'conflict')
    expect((await create('other-site', t.otherSiteToken)).status).toBe(201)
  })
})
