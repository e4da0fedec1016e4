/**
 * Track bench: `POST track` with a durable write per event (WAL, group commit), 32 connections,
 * every request a new event id, against a bare Bun.serve getting the same requests and returning
 * the same bytes, in the same run:
 * once with a new visitor per event (visitor insert + event insert), once with one returning
 * visitor (segment evaluation over its history). Three segments are defined. Stored events are
 * counted in the database afterwards.
 * Target: stored events/s >= 25% of baseline req/s, p99 < 10 ms.
 */
import { Database } from 'bun:sqlite'
import { join } from 'node:path'
import { interleaved, load, ROUNDS, resultTable, startBaseline, startMlc } from './lib'

/** Runs the section; returns its Markdown. */
export async function benchTrack(seconds: number): Promise<string> {
  const mlc = await startMlc()
  try {
    const site = await mlc.cli(['site', 'create', '--name', 'bench-track', '--rate-limit', '1000000'])
    const { token } = await mlc.cli(['token', 'create', '--site', String(site.id), '--scopes', 'read,write'])
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const segments = [
      { name: 'pricing viewers', rule: { all: [{ event: 'viewed_pricing', count: { gte: 3 }, within_days: 7 }] } },
      { name: 'pro', rule: { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }] } },
      { name: 'engaged', rule: { any: [{ event: 'signed_up' }, { all: [{ attribute: 'email', op: 'exists' }, { event: 'viewed_pricing' }] }] } },
    ]
    for (const s of segments) await fetch(`${mlc.url}/v1/segments`, { method: 'POST', headers, body: JSON.stringify(s) })
    const sample = await fetch(`${mlc.url}/v1/track`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ key: 'u_sample', name: 'viewed_pricing', event_id: 'sample', properties: { tier: 'growth' } }),
    })
    const body = await sample.text()
    const baseline = await startBaseline(body, { 'content-type': 'application/json;charset=utf-8' })
    const db = new Database(join(mlc.dataDir, 'mlc.db'), { readonly: true })
    const stored = () => db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM visitor_events').get()?.n ?? 0
    try {
      const event = '{"key":"u_[<id>]","name":"viewed_pricing","event_id":"[<id>]","properties":{"tier":"growth"}}'
      const round = Math.max(3, Math.round(seconds / 2))
      const run = async (label: string, body: string) => {
        const before = stored()
        const result = await load(label, `${mlc.url}/v1/track`, { seconds: round, method: 'POST', body, headers, idReplacement: true })
        return { result, perSec: Math.round((stored() - before) / round) }
      }
      const hotEvent = '{"key":"u_hot","name":"viewed_pricing","event_id":"[<id>]","properties":{"tier":"growth"}}'
      const { base, fresh, hot } = await interleaved(
        ROUNDS,
        {
          base: async () => {
            // The same requests as mlc gets, ids written in by the load generator: it competes for
            // the same two cores, so a baseline spared that work would be measured with more CPU.
            const result = await load('bare Bun.serve (same requests, same bytes)', baseline.url, {
              seconds: round,
              method: 'POST',
              body: event,
              headers,
              idReplacement: true,
            })
            return { result, perSec: result.requestsPerSec }
          },
          fresh: () => run('mlc POST track: new visitor + event', event),
          // One returning visitor: every event re-evaluates segments against its growing history.
          hot: () => run('mlc POST track: returning visitor', hotEvent),
        },
        (r) => r.perSec,
      )
      const ratio = (r: { perSec: number }) => `${((r.perSec / base.perSec) * 100).toFixed(0)}%`
      return [
        '### Track: POST track, 32 connections, one durable event per request',
        '',
        `Median of ${ROUNDS} interleaved rounds each.`,
        '',
        resultTable([base.result, fresh.result, hot.result]),
        '',
        `Stored events/s (counted in the database): new visitors ${fresh.perSec} (${ratio(fresh)} of baseline req/s), returning visitor ${hot.perSec} (${ratio(hot)}); target >= 25%. p99 ${fresh.result.p99} / ${hot.result.p99} ms (target < 10 ms).`,
        'The baseline gets the same requests: the load generator writes a fresh id into every body for both. (Sending the baseline an unchanged body spared the load generator that work on the shared cores: the baseline then measured ~1.7× the req/s.)',
        'Each response is sent after the COMMIT holding its event (group commit: events arriving in the same event-loop turn share one WAL transaction). Three segments are defined, so every event also re-evaluates them.',
      ].join('\n')
    } finally {
      db.close()
      await baseline.stop()
    }
  } finally {
    await mlc.stop()
  }
}
