/**
 * Webhooks bench: 10,000 events fanned out by the worker thread of a real `mlc serve` to a local
 * Bun.serve receiver answering 200 (in this process, checking signatures), reported as signed
 * deliveries/s; then `GET tags` latency at rest against the same while the worker is busy, at a
 * fixed 2,000 req/s (wrk paced by its Lua script's `delay()`) and saturated (32 connections).
 * Targets: >= 2,000 deliveries/s; p99 under load <= 2x p99 at rest.
 */
import { createHmac } from 'node:crypto'
import { systemClock } from '../../src/clock'
import { loadConfig } from '../../src/config'
import { openStore } from '../../src/db/open-store'
import { enqueueEvent } from '../../src/webhooks/enqueue'
import { type Check, errorNote, type LoadResult, load, resultTable, type SectionResult, startMlc, verdict } from './lib'

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

/** Runs the section; returns its Markdown and targets. */
export async function benchWebhooks(seconds: number): Promise<SectionResult> {
  const mlc = await startMlc({ MLC_WEBHOOK_ALLOW_PRIVATE: '1' })
  let secret = ''
  const rx = startReceiver(() => secret)
  try {
    const site = await mlc.cli(['site', 'create', '--name', 'bench', '--rate-limit', '1000000'])
    // One token for set-up and one per load run, so no run finds its rate-limit bucket drained.
    const [token, ...runTokens] = await mlc.tokens(site.id, 5)
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const runAuth = (i: number) => ({ authorization: `Bearer ${runTokens[i]}` })
    for (const name of ['billing', 'sales', 'support']) {
      await fetch(`${mlc.url}/v1/tags`, { method: 'POST', headers: auth, body: JSON.stringify({ name, color: '#2563eb' }) })
    }
    const sub = (await (
      await fetch(`${mlc.url}/v1/webhook_subscriptions`, { method: 'POST', headers: auth, body: JSON.stringify({ url: rx.url, events: ['*'] }) })
    ).json()) as {
      data: { id: number; secret: string }
    }
    secret = sub.data.secret
    const store = await openStore(loadConfig({ 'data-dir': mlc.dataDir }))
    const payload = {
      session_id: 'ses_bench',
      visitor: { name: 'Jay', email: 'jay@example.com' },
      handoff_reason: 'asked for a human',
      summary: 'Wants a refund.',
    }

    /** Commits `n` events in one transaction (as another writer would) and wakes the worker with a test ping. */
    const fanOut = async (n: number) => {
      await store.transaction(async (tx) => {
        for (let i = 0; i < n; i++) await enqueueEvent(tx, systemClock, { siteId: site.id, type: 'handoff', payload })
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
    const paced = (i: number) => ({ seconds, headers: runAuth(i), rate })
    const rest = await load(`GET tags at ${rate} req/s, worker idle`, `${mlc.url}/v1/tags`, paced(0))
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
    const underLoad = await load(`GET tags at ${rate} req/s, worker busy`, `${mlc.url}/v1/tags`, paced(1))
    const duringLoad = (rx.count - sent) / ((performance.now() - t0) / 1000)
    busy = false
    await feeder
    sent = rx.count

    // 3. Saturating GET tags (32 connections, as in the API section) at rest and busy.
    const satRest = await load('GET tags, 32 connections, worker idle', `${mlc.url}/v1/tags`, { seconds, headers: runAuth(2) })
    busy = true
    const feeder2 = (async () => {
      while (busy) {
        const target = rx.count + EVENTS
        await fanOut(EVENTS)
        while (busy && rx.count < target) await Bun.sleep(5)
      }
    })()
    const satBusy = await load('GET tags, 32 connections, worker busy', `${mlc.url}/v1/tags`, { seconds, headers: runAuth(3) })
    busy = false
    await feeder2
    await store.close()

    const ratio = (a: LoadResult, b: LoadResult) => b.p99 / Math.max(a.p99, 0.001)
    const checks: Check[] = [
      { what: 'webhook deliveries/s, worker alone', figure: String(Math.round(alone)), target: '>= 2,000', met: alone >= 2000 },
      {
        what: `GET tags p99 at ${rate} req/s, worker busy / idle`,
        figure: `${ratio(rest, underLoad).toFixed(2)} (${underLoad.p99.toFixed(2)} / ${rest.p99.toFixed(2)} ms)`,
        target: '<= 2',
        met: ratio(rest, underLoad) <= 2,
      },
      {
        what: 'GET tags p99 saturated, worker busy / idle',
        figure: `${ratio(satRest, satBusy).toFixed(2)} (${satBusy.p99.toFixed(2)} / ${satRest.p99.toFixed(2)} ms)`,
        target: '<= 2',
        met: ratio(satRest, satBusy) <= 2,
      },
    ]
    const late = [rest, underLoad].filter((r) => r.late > 0)
    const lines = [
      `### Webhooks: ${EVENTS.toLocaleString('en')} signed deliveries to a local receiver`,
      '',
      '| run | deliveries/s | target |',
      '| --- | ---: | --- |',
      `| ${EVENTS.toLocaleString('en')} events, worker alone | ${Math.round(alone)} | >= 2,000: ${verdict(checks[0]?.met ?? false)} |`,
      `| while GET tags runs at ${rate} req/s | ${Math.round(duringLoad)} | - |`,
      '',
      resultTable([{ result: rest }, { result: underLoad, check: checks[1] }, { result: satRest }, { result: satBusy, check: checks[2] }]),
      '',
      `Signature mismatches at the receiver: ${rx.badSignatures} of ${rx.count}.`,
      `The ${rate} req/s runs are paced by wrk's Lua \`delay()\` over 32 connections (one schedule, a request every ${1000 / rate} ms); latency counts from each request's send, so a request sent late would hide its wait: ` +
        (late.length
          ? `**${late.map((r) => `${r.label}: ${r.late} sent late, up to ${r.maxLateMs.toFixed(1)} ms`).join('; ')}**.`
          : 'none was sent more than 1 ms late.'),
    ]
    const errors = errorNote([rest, underLoad, satRest, satBusy])
    if (errors) lines.push('', errors)
    return { markdown: lines.join('\n'), checks }
  } finally {
    rx.stop()
    await mlc.stop()
  }
}
