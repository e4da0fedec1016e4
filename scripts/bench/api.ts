/**
 * API bench: authenticated, rate-limited, counted `GET /v1/tags`, `GET /v1/api.ashx?resource=tags`
 * and `GET /v1/whoami` against a bare Bun.serve returning the tags bytes, and the access log's
 * cost (GET tags on a second server at `MLC_LOG_LEVEL=warn`), all interleaved in the same run.
 * The two GET tags servers differ in the log level only: each serves GET tags and nothing else
 * (api.ashx and whoami run on a third). When the info one also served those rounds, its tags
 * runs carried the kernel's writeback of their log lines and their counters, and the "log cost"
 * read 13-16% where two like-for-like servers differ by less than the noise.
 * Targets (issue 15): GET tags >= 50% of the baseline and p99 < 2 ms, api.ashx >= 45%, whoami
 * >= 40%, the access log costs <= 5%.
 */
import {
  type Check,
  errorNote,
  interleaved,
  type LoadResult,
  load,
  type MlcProcess,
  percent,
  ROUNDS,
  resultTable,
  roundSeconds,
  type SectionResult,
  startBaseline,
  startContractFloor,
  startMlc,
} from './lib'

/** A site with three tags and a token per run (so no run meets a bucket an earlier one drained). */
async function prepare(mlc: MlcProcess, runs: number): Promise<{ tokens: string[] }> {
  const site = await mlc.cli(['site', 'create', '--name', 'bench', '--rate-limit', '1000000'])
  const tokens = await mlc.tokens(site.id, runs)
  for (const name of ['billing', 'sales', 'support']) {
    await fetch(`${mlc.url}/v1/tags`, { method: 'POST', headers: { authorization: `Bearer ${tokens[0]}` }, body: JSON.stringify({ name, color: '#2563eb' }) })
  }
  return { tokens }
}

/** Runs the section; returns its Markdown and targets. */
export async function benchApi(seconds: number): Promise<SectionResult> {
  // Default configuration (access log at info), and the same at warn for the log's cost.
  const mlc = await startMlc()
  const quiet = await startMlc({ MLC_LOG_LEVEL: 'warn' })
  const other = await startMlc()
  let stopped = false
  try {
    const { tokens } = await prepare(mlc, ROUNDS)
    const { tokens: quietTokens } = await prepare(quiet, ROUNDS)
    const { tokens: otherTokens } = await prepare(other, ROUNDS * 2)
    const auth = (t: string[], i: number) => ({ authorization: `Bearer ${t[i]}` })
    const body = await (await fetch(`${mlc.url}/v1/tags`, { headers: auth(tokens, 0) })).text()
    const baseline = await startBaseline(body, { 'content-type': 'application/json;charset=utf-8' })
    const floorToken = 'mlc_floor_bench_token'
    const floor = await startContractFloor(floorToken, JSON.stringify(JSON.parse(body).data)).catch(async (err) => {
      await baseline.stop()
      throw err
    })
    const s = roundSeconds(seconds)
    // Requests the info server answered under load, to hold its log lines against.
    let answered = 0
    const counted = async (r: Promise<LoadResult>) => {
      const result = await r
      answered += result.total
      return result
    }
    const { median, all } = await interleaved(
      ROUNDS,
      {
        base: () => load('bare Bun.serve (same bytes as GET tags)', baseline.url, { seconds: s }),
        floor: () =>
          load('contract floor: bare Bun.serve doing by hand only what GET tags must (scripts/bench/contract-floor.ts)', `${floor.url}/v1/tags`, {
            seconds: s,
            headers: { authorization: `Bearer ${floorToken}` },
          }),
        tags: (i) => counted(load('mlc GET /v1/tags (auth, rate limit, count; log at info)', `${mlc.url}/v1/tags`, { seconds: s, headers: auth(tokens, i) })),
        tagsWarn: (i) => load('mlc GET /v1/tags, MLC_LOG_LEVEL=warn', `${quiet.url}/v1/tags`, { seconds: s, headers: auth(quietTokens, i) }),
        legacy: (i) =>
          counted(load('mlc GET /v1/api.ashx?resource=tags', `${other.url}/v1/api.ashx?resource=tags`, { seconds: s, headers: auth(otherTokens, i * 2) })),
        whoami: (i) => counted(load('mlc GET /v1/whoami', `${other.url}/v1/whoami`, { seconds: s, headers: auth(otherTokens, i * 2 + 1) })),
      },
      (r) => r.requestsPerSec,
    ).finally(() => Promise.all([baseline.stop(), floor.stop()]).then(() => {}))
    stopped = true
    const requestLines = (await mlc.stop()).requestLines + (await other.stop()).requestLines
    await quiet.stop()

    const { base, floor: floorResult, tags, tagsWarn, legacy, whoami } = median
    const ratio = (r: LoadResult) => percent(r.requestsPerSec, base.requestsPerSec)
    const logCost = 100 - percent(tags.requestsPerSec, tagsWarn.requestsPerSec)
    const checks: Check[] = [
      {
        what: 'GET /v1/tags vs bare Bun.serve',
        figure: `${ratio(tags)}%, p99 ${tags.p99.toFixed(2)} ms`,
        target: '>= 50%, p99 < 2 ms',
        met: ratio(tags) >= 50 && tags.p99 < 2,
      },
      { what: 'GET /v1/api.ashx?resource=tags vs bare Bun.serve', figure: `${ratio(legacy)}%`, target: '>= 45%', met: ratio(legacy) >= 45 },
      { what: 'GET /v1/whoami vs bare Bun.serve', figure: `${ratio(whoami)}%`, target: '>= 40%', met: ratio(whoami) >= 40 },
      { what: 'access log cost (GET tags at info vs warn)', figure: `${logCost}%`, target: 'log cost <= 5%', met: logCost <= 5 },
    ]
    const [cTags, cLegacy, cWhoami, cLog] = checks
    const lines = [
      `### API: GET, ${s} s rounds`,
      '',
      `Median of ${ROUNDS} interleaved rounds each. Each mlc run uses its own token (site limit 1,000,000/min), so no bucket runs dry. The whoami row is held to the same baseline (the tags bytes). ` +
        'The two GET tags servers differ only in the log level and serve nothing else; api.ashx and whoami run on a third server (info).',
      '',
      resultTable([
        { result: base, baseline: true },
        { result: floorResult, ratio: ratio(floorResult) },
        { result: tags, ratio: ratio(tags), check: cTags },
        { result: tagsWarn, ratio: ratio(tagsWarn), check: cLog },
        { result: legacy, ratio: ratio(legacy), check: cLegacy },
        { result: whoami, ratio: ratio(whoami), check: cWhoami },
      ]),
      '',
      `The contract floor answers the same bytes and headers as GET tags (10 headers where the baseline has 1) with only the per-request work the contract asks for, written by hand: ` +
        `the bearer token looked up in a Map, a token bucket, the rate-limit headers, a request id, the ETag and If-None-Match, and mlc's own access log. ` +
        `It serves ${ratio(floorResult)}% of the baseline, the most any implementation of the contract on Bun can expect here; mlc reaches ${percent(tags.requestsPerSec, floorResult.requestsPerSec)}% of it.`,
      '',
      `Access log: GET tags at \`info\` (the default; stdout to a file) serves ${tags.requestsPerSec} req/s, at \`warn\` ${tagsWarn.requestsPerSec}: the log costs ${logCost}% (target <= 5%). ` +
        `The info servers wrote ${requestLines} request lines for the ${answered} responses wrk counted (wrk does not count requests still in flight when a round ends)${requestLines < answered ? ': **lines were lost**' : ''}.`,
    ]
    const errors = errorNote(all)
    if (errors) lines.push('', errors)
    return {
      markdown: lines.join('\n'),
      checks,
      ceiling: `bare Bun.serve answered ${base.requestsPerSec} GET req/s (p99 ${base.p99.toFixed(2)} ms)`,
    }
  } finally {
    if (!stopped) {
      await mlc.stop()
      await quiet.stop()
      await other.stop()
    }
  }
}
