/**
 * Two checkouts of mlc side by side, in the same run: `bun scripts/bench/compare-trees.ts DIR`
 * loads this checkout and the one in DIR (e.g. `git worktree add /tmp/mlc-before <commit>`, with
 * its own `node_modules`) with wrk, interleaved round by round, on the hot paths: authenticated
 * GET /v1/tags and durable POST /v1/track (a new visitor per event). Prints each figure and this
 * checkout's as a percentage of DIR's, so a refactor can show it kept the speed (issue 16: within 5%).
 */
import { Database } from 'bun:sqlite'
import { join, resolve } from 'node:path'
import { interleaved, type LoadResult, load, type MlcProcess, startMlc } from './lib'
import { findWrk, WRK_MISSING } from './wrk'

const other = process.argv[2]
if (!other) {
  console.error('usage: bun scripts/bench/compare-trees.ts DIR   (DIR: another mlc checkout with node_modules)')
  process.exit(2)
}
if (!findWrk()) {
  console.error(WRK_MISSING)
  process.exit(1)
}
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const SECONDS = Number(process.env.SECONDS ?? 5)

/** A site without a practical rate limit, three tags, and a token per round. */
async function prepare(mlc: MlcProcess): Promise<string[]> {
  const site = await mlc.cli(['site', 'create', '--name', 'bench', '--rate-limit', '1000000'])
  const tokens = await mlc.tokens(site.id, ROUNDS * 2)
  for (const name of ['billing', 'sales', 'support']) {
    await fetch(`${mlc.url}/v1/tags`, { method: 'POST', headers: { authorization: `Bearer ${tokens[0]}` }, body: JSON.stringify({ name, color: '#2563eb' }) })
  }
  return tokens
}

const after = await startMlc()
const before = await startMlc({}, { root: resolve(other) })
try {
  const tokens = { after: await prepare(after), before: await prepare(before) }
  const event = '{"key":"u_[<id>]","name":"viewed_pricing","event_id":"[<id>]","properties":{"tier":"growth"}}'
  const stored = (mlc: MlcProcess) => {
    const db = new Database(join(mlc.dataDir, 'mlc.db'), { readonly: true })
    try {
      return db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM visitor_events').get()?.n ?? 0
    } finally {
      db.close()
    }
  }
  const tags = (mlc: MlcProcess, t: string[]) => (i: number) =>
    load('GET /v1/tags', `${mlc.url}/v1/tags`, { seconds: SECONDS, headers: { authorization: `Bearer ${t[i * 2]}` } })
  const track = (mlc: MlcProcess, t: string[]) => async (i: number) => {
    const n = stored(mlc)
    const result = await load('POST /v1/track', `${mlc.url}/v1/track`, {
      seconds: SECONDS,
      method: 'POST',
      body: event,
      headers: { authorization: `Bearer ${t[i * 2 + 1]}`, 'content-type': 'application/json' },
    })
    return { ...result, requestsPerSec: Math.round((stored(mlc) - n) / SECONDS) }
  }
  const { median } = await interleaved(
    ROUNDS,
    {
      tagsBefore: tags(before, tokens.before),
      tagsAfter: tags(after, tokens.after),
      trackBefore: track(before, tokens.before),
      trackAfter: track(after, tokens.after),
    },
    (r: LoadResult) => r.requestsPerSec,
  )
  const row = (what: string, b: LoadResult, a: LoadResult) =>
    `| ${what} | ${b.requestsPerSec} | ${b.p99.toFixed(2)} | ${a.requestsPerSec} | ${a.p99.toFixed(2)} | ${Math.round((a.requestsPerSec / b.requestsPerSec) * 1000) / 10}% |`
  console.log(`Median of ${ROUNDS} interleaved rounds of ${SECONDS} s (wrk, 1 thread, 32 connections). Before: ${resolve(other)}; after: this checkout.\n`)
  console.log('| | before req/s | before p99 ms | after req/s | after p99 ms | after / before |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  console.log(row('GET /v1/tags (auth, rate limit, count, log at info)', median.tagsBefore, median.tagsAfter))
  console.log(row('POST /v1/track, new visitor (stored events/s)', median.trackBefore, median.trackAfter))
} finally {
  await after.stop()
  await before.stop()
}
