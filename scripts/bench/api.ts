/**
 * API bench: authenticated, rate-limited, counted `GET tags` (32 connections) against a bare
 * Bun.serve returning the same bytes, in the same run. Target: >= 50% of baseline req/s, p99 < 5 ms.
 */
import { interleaved, load, ROUNDS, resultTable, startBaseline, startMlc } from './lib'

/** Runs the section; returns its Markdown. */
export async function benchApi(seconds: number): Promise<string> {
  const mlc = await startMlc()
  try {
    const site = await mlc.cli(['site', 'create', '--name', 'bench', '--rate-limit', '1000000'])
    const { token } = await mlc.cli(['token', 'create', '--site', String(site.id), '--scopes', 'read,write'])
    const auth = { authorization: `Bearer ${token}` }
    for (const name of ['billing', 'sales', 'support']) {
      await fetch(`${mlc.url}/v1/tags`, { method: 'POST', headers: auth, body: JSON.stringify({ name, color: '#2563eb' }) })
    }
    const sample = await fetch(`${mlc.url}/v1/api.ashx?resource=tags`, { headers: auth })
    const body = await sample.text()
    const baseline = await startBaseline(body, { 'content-type': 'application/json;charset=utf-8' })
    try {
      const round = Math.max(3, Math.round(seconds / 2))
      const { base, api, legacy } = await interleaved(
        ROUNDS,
        {
          base: () => load('bare Bun.serve (same bytes)', baseline.url, { seconds: round }),
          api: () => load('mlc GET tags (auth + rate limit + count)', `${mlc.url}/v1/tags`, { seconds: round, headers: auth }),
          legacy: () => load('mlc GET api.ashx?resource=tags', `${mlc.url}/v1/api.ashx?resource=tags`, { seconds: round, headers: auth }),
        },
        (r) => r.requestsPerSec,
      )
      const ratio = (r: { requestsPerSec: number }) => `${((r.requestsPerSec / base.requestsPerSec) * 100).toFixed(0)}%`
      return [
        '### API: GET tags, 32 connections',
        '',
        `Median of ${ROUNDS} interleaved rounds each.`,
        '',
        resultTable([base, api, legacy]),
        '',
        `Ratio to baseline: /v1/tags ${ratio(api)}, api.ashx ${ratio(legacy)} (target >= 50%); p99 ${api.p99} ms (target < 5 ms).`,
      ].join('\n')
    } finally {
      await baseline.stop()
    }
  } finally {
    await mlc.stop()
  }
}
