/**
 * Webhooks bench: 10,000 events fanned out by the worker thread of a real `mlc serve` to a local
 * Bun.serve receiver answering 200 (in this process, checking signatures), reported as signed
 * deliveries/s; then `GET tags` latency at rest against the same while the worker is busy.
 * Targets: >= 2,000 deliveries/s; p99 under load <= 2x p99 at rest.
 */
import { createHmac } from 'node:crypto'
import { systemClock } from '../../src/clock'
import { openStore } from '../../src/db/store'
import { enqueueEvent } from '../../src/webhooks/enqueue'
import { type LoadResult, load, resultTable, startMlc } from './lib'

const EVENTS = 10_000

interface Receiver {
  url: string
  count: number
  badSignatures: number
  stop(): void
}

/** Counts deliveries and checks every X-MLC-Signature against the secret. */
function startReceiver(secret: () => string): Receiver {
  const rx: Receiver = { url: '', count: 0, badSignatures: 0, stop: () => {} }
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const body = await req.text()
      const expected = `sha256=${createHmac('sha256', secret()).update(body).digest('hex')}`
      if (req.headers.get('x-mlc-signature') !== expected) rx.badSignatures++
      rx.count++
      return new Response('ok')
    },
  })
  rx.url = `http://127.0.0.1:${server.port}/hook`
  rx.stop = () => server.stop(true)
  return rx
}

/** Runs the section; returns its Markdown. */
export async function benchWebhooks(seconds: number): Promise<string> {
  const mlc = await startMlc({ MLC_WEBHOOK_ALLOW_PRIVATE: '1' })
  let secret = ''
  const rx = startReceiver(() => secret)
  try {
    const site = await mlc.cli(['site', 'create', '--name', 'bench', '--rate-limit', '1000000'])
    const { token } = await mlc.cli(['token', 'create', '--site', String(site.id), '--scopes', 'read,write'])
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    for (const name of ['billing', 'sales', 'support']) {
      await fetch(`${mlc.url}/v1/tags`, { method: 'POST', headers: auth, body: JSON.stringify({ name, color: '#2563eb' }) })
    }
    const sub = (await (
      await fetch(`${mlc.url}/v1/webhook_subscriptions`, { method: 'POST', headers: auth, body: JSON.stringify({ url: rx.url, events: ['*'] }) })
    ).json()) as {
      data: { id: number; secret: string }
    }
    secret = sub.data.secret
    const store = openStore(mlc.dataDir)
    const payload = {
      session_id: 'ses_bench',
      visitor: { name: 'Jay', email: 'jay@example.com' },
      handoff_reason: 'asked for a human',
      summary: 'Wants a refund.',
    }

    /** Commits `n` events in one transaction (as another writer would) and wakes the worker with a test ping. */
    const fanOut = async (n: number) => {
      store.transaction(() => {
        for (let i = 0; i < n; i++) enqueueEvent(store, systemClock, { siteId: site.id, type: 'handoff', payload })
      })
      // The ping only wakes the worker; its answer (which waits for the ping's first attempt) is not needed.
      fetch(`${mlc.url}/v1/webhook_subscriptions/${sub.data.id}?action=test`, { method: 'POST', headers: auth }).catch(() => {})
    }

    // 1. Throughput alone: 10,000 events (+1 ping), first request to last.
    const start = performance.now()
    await fanOut(EVENTS)
    while (rx.count < EVENTS + 1) await Bun.sleep(5)
    const alone = (EVENTS + 1) / ((performance.now() - start) / 1000)

    // 2. GET tags at a fixed rate, at rest and while the worker works through 10,000-event batches.
    const rate = 2000
    const opts = { seconds, headers: { authorization: auth.authorization }, connections: 16, rate }
    const rest = await load(`GET tags at ${rate} req/s, worker idle`, `${mlc.url}/v1/tags`, opts)
    let busy = true
    let sent = rx.count
    const t0 = performance.now()
    const feeder = (async () => {
      while (busy) {
        const target = rx.count + EVENTS
        await fanOut(EVENTS)
        while (busy && rx.count < target) await Bun.sleep(5)
      }
    })()
    const underLoad = await load(`GET tags at ${rate} req/s, worker busy`, `${mlc.url}/v1/tags`, opts)
    const duringLoad = (rx.count - sent) / ((performance.now() - t0) / 1000)
    busy = false
    await feeder
    sent = rx.count

    // 3. Saturating GET tags (32 connections, as in the API section) at rest and busy.
    const satRest = await load('GET tags, 32 connections, worker idle', `${mlc.url}/v1/tags`, { seconds, headers: { authorization: auth.authorization } })
    busy = true
    const feeder2 = (async () => {
      while (busy) {
        const target = rx.count + EVENTS
        await fanOut(EVENTS)
        while (busy && rx.count < target) await Bun.sleep(5)
      }
    })()
    const satBusy = await load('GET tags, 32 connections, worker busy', `${mlc.url}/v1/tags`, { seconds, headers: { authorization: auth.authorization } })
    busy = false
    await feeder2
    store.close()

    const ratio = (a: LoadResult, b: LoadResult) => (b.p99 / Math.max(a.p99, 0.001)).toFixed(2)
    return [
      '### Webhooks: 10,000 signed deliveries to a local receiver',
      '',
      '| run | deliveries/s |',
      '| --- | ---: |',
      `| 10,000 events, worker alone | ${Math.round(alone)} |`,
      `| while GET tags runs at ${rate} req/s | ${Math.round(duringLoad)} |`,
      '',
      resultTable([rest, underLoad, satRest, satBusy]),
      '',
      `Signature mismatches at the receiver: ${rx.badSignatures} of ${rx.count}.`,
      `Targets: >= 2,000 deliveries/s (${Math.round(alone)} alone); p99 busy / at rest <= 2: ${ratio(rest, underLoad)} at ${rate} req/s, ${ratio(satRest, satBusy)} saturated.`,
    ].join('\n')
  } finally {
    rx.stop()
    await mlc.stop()
  }
}
