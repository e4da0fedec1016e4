/**
 * Bench plumbing: start the real server and a bare Bun.serve baseline as child processes on
 * loopback, run interleaved rounds against them (the load itself is wrk, scripts/bench/wrk.ts),
 * and print the figures beside their targets. Every run is bounded in time and stops by itself.
 */

import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Subprocess, spawn } from 'bun'
import { freePort } from '../free-port'
import type { LoadResult } from './wrk'

export { type LoadResult, load, WRK_CONNECTIONS, WRK_THREADS } from './wrk'

/** Rounds per interleaved comparison. */
export const ROUNDS = 3

export const ROOT = new URL('../..', import.meta.url).pathname

/** One target from issue 15 (or an earlier one) and whether this run met it. */
export interface Check {
  what: string
  figure: string
  target: string
  met: boolean
}

/** What a section hands back: its Markdown, its targets, and the load generator's ceiling if it measured one. */
export interface SectionResult {
  markdown: string
  checks: Check[]
  ceiling?: string
}

/** Waits until `url` answers 200, or throws after `ms`. */
export async function waitUp(url: string, ms = 15_000, init: RequestInit = {}): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      if ((await fetch(url, init)).ok) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not come up`)
    await Bun.sleep(50)
  }
}

export interface MlcProcess {
  url: string
  dataDir: string
  proc: Subprocess
  cli(args: string[]): Promise<any>
  /** `n` new read,write tokens for `siteId`: one per run, so no run finds its rate-limit bucket drained by an earlier one. */
  tokens(siteId: number, n: number): Promise<string[]>
  /** Stops the server (SIGTERM) and returns how many `request` lines it logged. */
  stop(): Promise<{ requestLines: number }>
}

/**
 * Starts `mlc serve` from source (this checkout, or `opts.root`) on a temp data dir, in its default configuration (access log at
 * `info`) unless `env` says otherwise. Its stdout goes to a file in the data dir, as
 * `mlc serve > mlc.log` would: the log lines cost a real write, not a pipe nobody reads.
 */
export async function startMlc(env: Record<string, string> = {}, opts: { root?: string } = {}): Promise<MlcProcess> {
  // Another checkout of mlc (scripts/bench/compare-trees.ts runs an older commit beside this one).
  const root = opts.root ?? ROOT
  const dataDir = mkdtempSync(join(tmpdir(), 'mlc-bench-'))
  const logPath = join(dataDir, 'stdout.log')
  const logFd = openSync(logPath, 'a')
  const port = freePort()
  const { MLC_LOG_LEVEL: _level, ...inherited } = process.env
  const proc = spawn([process.execPath, 'src/main.ts', 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir], {
    cwd: root,
    env: { ...inherited, ...env },
    stdout: logFd,
    stderr: 'inherit',
  })
  closeSync(logFd)
  const url = `http://127.0.0.1:${port}`
  await waitUp(`${url}/healthz`)
  const cli = async (args: string[]) => {
    const p = spawn([process.execPath, 'src/main.ts', ...args, '--json', '--data-dir', dataDir], { cwd: root, stdout: 'pipe', stderr: 'inherit' })
    const out = await new Response(p.stdout).text()
    await p.exited
    return JSON.parse(out)
  }
  return {
    url,
    dataDir,
    proc,
    cli,
    async tokens(siteId, n) {
      const out = await Promise.all(Array.from({ length: n }, () => cli(['token', 'create', '--site', String(siteId), '--scopes', 'read,write'])))
      return out.map((t) => t.token as string)
    },
    async stop() {
      proc.kill('SIGTERM')
      await proc.exited
      const text = await Bun.file(logPath).text()
      let requestLines = 0
      for (let i = text.indexOf('"msg":"request"'); i !== -1; i = text.indexOf('"msg":"request"', i + 1)) requestLines++
      rmSync(dataDir, { recursive: true, force: true })
      return { requestLines }
    },
  }
}

/** Starts a bare Bun.serve (a child process) answering every request with `body` and `headers`. */
export async function startBaseline(body: string, headers: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  const port = freePort()
  const code = `Bun.serve({ port: ${port}, hostname: '127.0.0.1', fetch: () => new Response(${JSON.stringify(body)}, { headers: ${JSON.stringify(headers)} }) })`
  const proc = spawn([process.execPath, '-e', code], { stdout: 'ignore', stderr: 'inherit' })
  const url = `http://127.0.0.1:${port}`
  await waitUp(url)
  return {
    url,
    async stop() {
      proc.kill()
      await proc.exited
    },
  }
}

/**
 * Starts a contract floor (a child process): `script` (scripts/bench/contract-floor.ts for GET
 * tags, track-floor.ts for POST track) answering what mlc answers with the least per-request work
 * the contract asks for, by hand. `args` follow the port; `dir` is a temp folder of its own (the
 * track floor's database), and its log goes to a file there, as mlc's does.
 */
export async function startFloor(
  script: string,
  token: string,
  args: (dir: string) => string[],
  probe: RequestInit & { path: string },
): Promise<{ url: string; stop(): Promise<void> }> {
  const port = freePort()
  const dir = mkdtempSync(join(tmpdir(), 'mlc-bench-floor-'))
  const logFd = openSync(join(dir, 'stdout.log'), 'a')
  const proc = spawn([process.execPath, join(ROOT, 'scripts/bench', script), String(port), token, ...args(dir)], { stdout: logFd, stderr: 'inherit' })
  closeSync(logFd)
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    proc.kill('SIGTERM')
    await proc.exited
    rmSync(dir, { recursive: true, force: true })
  }
  const { path, ...init } = probe
  await waitUp(`${url}${path}`, 15_000, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } }).catch(
    async (err) => {
      await stop()
      throw err
    },
  )
  return { url, stop }
}

/** The GET tags floor (scripts/bench/contract-floor.ts) answering `dataJson` as the tags. */
export function startContractFloor(token: string, dataJson: string): Promise<{ url: string; stop(): Promise<void> }> {
  return startFloor('contract-floor.ts', token, () => [dataJson], { path: '/v1/tags' })
}

/** The POST track floor (scripts/bench/track-floor.ts) on a database of its own. */
export function startTrackFloor(token: string): Promise<{ url: string; stop(): Promise<void> }> {
  const probe = JSON.stringify({ key: 'u_probe', name: 'probe', event_id: 'probe' })
  return startFloor('track-floor.ts', token, (dir) => [dir], { path: '/v1/track', method: 'POST', body: probe })
}

/** `part` as a percentage of `whole`, rounded. */
export function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 100) : 0
}

/** "met" or "**NOT met**", for a target column. */
export function verdict(met: boolean): string {
  return met ? 'met' : '**NOT met**'
}

/** A row of a load table: a result, its ratio to the baseline and the target it is held to. */
export interface Row {
  result: LoadResult
  /** This row is the bare Bun.serve the others are held to. */
  baseline?: boolean
  /** Req/s (or stored events/s) as a percentage of the baseline's req/s in the same run. */
  ratio?: number
  /** Stored events/s, for sections that count what reached the database. */
  stored?: number
  check?: Check
}

/** A Markdown table of load results with ratios and targets. */
export function resultTable(rows: Row[]): string {
  const stored = rows.some((r) => r.stored !== undefined)
  const head = ['run', 'req/s', ...(stored ? ['stored/s'] : []), 'p50 ms', 'p99 ms', 'vs baseline', 'errors', 'target']
  const lines = [
    `| ${head.join(' | ')} |`,
    // Text columns left, figures right.
    `| ${head.map((h) => (h === 'run' || h === 'target' ? '---' : '---:')).join(' | ')} |`,
  ]
  for (const { result: r, baseline, ratio, stored: s, check } of rows) {
    const cells = [
      r.label,
      String(r.requestsPerSec),
      ...(stored ? [s === undefined ? '-' : String(s)] : []),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      ratio !== undefined ? `${ratio}%` : baseline ? 'baseline' : '-',
      errorCell(r),
      check ? `${check.target}: ${verdict(check.met)}` : '-',
    ]
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

/** "0", or what went wrong in a run. */
function errorCell(r: LoadResult): string {
  const parts: string[] = []
  if (r.httpErrors) parts.push(`${r.httpErrors} HTTP >= 400`)
  if (r.errors) parts.push(`${r.errors} socket`)
  return parts.length ? `**${parts.join(', ')}**` : '0'
}

/** A sentence naming every run that had errors (empty when none did): figures from such runs are suspect. */
export function errorNote(results: LoadResult[]): string {
  const bad = results.filter((r) => r.httpErrors || r.errors)
  if (!bad.length) return ''
  return `**This section had errors** (its figures are suspect): ${bad.map((r) => `${r.label}: ${r.httpErrors} responses over 399 and ${r.errors} socket errors in ${r.total} responses`).join('; ')}.`
}

/**
 * Runs every entry of `runs` `rounds` times, interleaved (A B C A B C ...), so a noisy moment on a
 * shared machine hits the baseline and the server alike, and keeps each entry's median round by
 * `score` (req/s by default). One back-to-back pair is what made single runs swing by 2x here.
 * Each run gets its round number (0-based); `all` keeps every round (errors in any round count).
 */
export async function interleaved<K extends string, V>(
  rounds: number,
  runs: Record<K, (round: number) => Promise<V>>,
  score: (v: V) => number,
): Promise<{ median: Record<K, V>; all: V[] }> {
  const results = {} as Record<K, V[]>
  const keys = Object.keys(runs) as K[]
  for (let i = 0; i < rounds; i++) {
    // Every other round in reverse, so no run always follows the same one (a run right after
    // another one pays for what that one left behind: dirty pages being written, a busy core).
    for (const key of i % 2 === 0 ? keys : [...keys].reverse()) {
      const value = await runs[key](i)
      if (!results[key]) results[key] = []
      results[key].push(value)
    }
  }
  const median = {} as Record<K, V>
  for (const key of Object.keys(results) as K[]) {
    const sorted = [...results[key]].sort((a, b) => score(a) - score(b))
    median[key] = sorted[Math.floor(sorted.length / 2)] as V
  }
  return { median, all: Object.values<V[]>(results).flat() }
}

/** Seconds per round for a section given `--seconds`: half, at least 3 (wrk needs whole seconds). */
export function roundSeconds(seconds: number): number {
  return Math.max(3, Math.round(seconds / 2))
}
