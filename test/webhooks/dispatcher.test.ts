/**
 * The request thread's side of webhook delivery: a worker thread that crashes is restarted (with
 * a backoff) and then sends what waited in the outbox meanwhile. The crash is a real one: the
 * thread cannot open the database (its folder is a plain file) and throws.
 */
import { afterEach, expect, test } from 'bun:test'
import { rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { systemClock } from '../../src/clock'
import { createLogger } from '../../src/log'
import { createWorkerDispatcher, type WebhookDispatcher } from '../../src/webhooks/dispatcher'
import { enqueueEvent } from '../../src/webhooks/enqueue'
import { createTestApp, TEST_ENGINE, type TestApp, tempDir } from '../helpers'
import { type Receiver, startReceiver, until } from './harness'

let t: TestApp | null = null
let rx: Receiver | null = null
afterEach(async () => {
  await t?.app.webhooks.stop()
  await t?.cleanup()
  rx?.stop()
  t = null
  rx = null
})

// The crash needs a worker that opens a SQLite file; on PostgreSQL the worker opens its own pool instead.
const sqliteOnly = test.skipIf(TEST_ENGINE !== 'sqlite')

sqliteOnly(
  'a crashed worker thread is restarted and then delivers what waited in the outbox',
  async () => {
    const logs: { msg: string; error?: string }[] = []
    const logger = createLogger({ level: 'debug', write: (line) => logs.push(JSON.parse(line)) })
    // The worker opens `<link>/mlc.db`; while `link` is a plain file, opening throws inside the thread.
    const link = join(tempDir('mlc-crash-'), 'data')
    writeFileSync(link, 'not a folder')
    let dispatcher: WebhookDispatcher | null = null
    t = await createTestApp(
      { MLC_WEBHOOK_ALLOW_PRIVATE: '1', MLC_WEBHOOK_TIMEOUT_MS: '2000' },
      {
        webhooks: ({ store, config }) => {
          const d = createWorkerDispatcher({ config, dbPath: join(link, 'mlc.db'), store, clock: systemClock, logger })
          d.start()
          dispatcher = d
          return d
        },
      },
    )
    t.clock.set(Date.now())
    await until(() => logs.some((l) => l.msg === 'webhook worker crashed'), 5000, 'the crash to be logged')
    expect((await (dispatcher as unknown as WebhookDispatcher).status()).alive).toBe(false)

    // An event raised while no worker runs waits in the outbox.
    rx = startReceiver()
    const sub = await t.call('POST', '/v1/webhook_subscriptions', { body: { url: rx.url, events: ['*'] } })
    expect(sub.status).toBe(201)
    const app = t
    const { deliveryIds } = await app.store.transaction((tx) =>
      enqueueEvent(tx, app.clock, { siteId: app.site1, type: 'handoff', payload: { session_id: 's_1' } }),
    )
    app.app.webhooks.wake()

    // The folder appears (the data dir, through a symlink): the next restart (1 s after the crash) works.
    rmSync(link)
    symlinkSync(app.dataDir, link)
    const [received] = await rx.waitFor(1, 10_000)
    expect(JSON.parse(received?.body ?? '{}')).toMatchObject({ event: 'handoff', session_id: 's_1' })
    await until(
      async () => (await app.store.webhooks.getDelivery(app.site1, deliveryIds[0] as string))?.status === 'succeeded',
      5000,
      'the delivery to be recorded',
    )
    expect((await (dispatcher as unknown as WebhookDispatcher).status()).alive).toBe(true)
    expect(logs.filter((l) => l.msg === 'webhook worker crashed').length).toBeGreaterThanOrEqual(1)
  },
  20_000,
)
