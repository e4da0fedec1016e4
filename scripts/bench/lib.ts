/**
 * Bench plumbing: start the real server and a bare Bun.serve baseline as child processes on
 * loopback, load them with autocannon (run under Node, as a separate process), parse results.
 * Every run is bounded in time and stops by itself.
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Subprocess, spawn } from 'bun'
import { freePort } from '../free-port'

/** Rounds per interleaved comparison. */
export const ROUNDS = 3

export const ROOT = new URL('../..', import.meta.url).pathname

export interface LoadResult {
  label: string
  requestsPerSec: number
  p50: number
  p99: number
  errors: number
  non2xx: number
  total: number
}

/** Waits until `url` answers 200, or throws after `ms`. */
export async function waitUp(url: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      if ((await fetch(url)).ok) return
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
  stop(): Promise<void>
}

/** Starts `mlc serve` from source on a temp data dir, with request logs off (measured separately). */
export async function startMlc(env: Record<string, string> = {}): Promise<MlcProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlc-bench-'))
  const port = freePort()
  const proc = spawn([process.execPath, 'src/main.ts', 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir], {
    cwd: ROOT,
    env: { ...process.env, MLC_LOG_LEVEL: 'warn', ...env },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  const url = `http://127.0.0.1:${port}`
  await waitUp(`${url}/healthz`)
  return {
    url,
    dataDir,
    proc,
    async cli(args: string[]) {
      const p = spawn([process.execPath, 'src/main.ts', ...args, '--json', '--data-dir', dataDir], { cwd: ROOT, stdout: 'pipe', stderr: 'inherit' })
      const out = await new Response(p.stdout).text()
      await p.exited
      return JSON.parse(out)
    },
    async stop() {
      proc.kill('SIGTERM')
      await proc.exited
      rmSync(dataDir, { recursive: true, force: true })
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

/** Runs autocannon (under Node, a separate process) and returns its figures. */
export async function load(
  label: string,
  url: string,
  opts: {
    connections?: number
    seconds?: number
    method?: string
    headers?: Record<string, string>
    body?: string
    /** Replace `[<id>]` in the body with a fresh random id per request (autocannon -I). */
    idReplacement?: boolean
    /** Fixed overall request rate (autocannon -R) instead of as fast as possible. */
    rate?: number
  } = {},
): Promise<LoadResult> {
  const args = ['node', join(ROOT, 'node_modules/autocannon/autocannon.js'), '--json', '-c', String(opts.connections ?? 32), '-d', String(opts.seconds ?? 8)]
  if (opts.method) args.push('-m', opts.method)
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}=${v}`)
  if (opts.body) args.push('-b', opts.body)
  if (opts.idReplacement) args.push('-I')
  if (opts.rate) args.push('-R', String(opts.rate))
  args.push(url)
  const p = spawn(args, { stdout: 'pipe', stderr: 'ignore' })
  const out = await new Response(p.stdout).text()
  await p.exited
  const r = JSON.parse(out)
  return {
    label,
    requestsPerSec: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    total: r.requests.total,
  }
}

/** A Markdown table of load results. */
export function resultTable(rows: LoadResult[]): string {
  const lines = ['| run | req/s | p50 ms | p99 ms | non-2xx | errors |', '| --- | ---: | ---: | ---: | ---: | ---: |']
  for (const r of rows) lines.push(`| ${r.label} | ${r.requestsPerSec} | ${r.p50} | ${r.p99} | ${r.non2xx} | ${r.errors} |`)
  return lines.join('\n')
}

/**
 * Runs every entry of `runs` `rounds` times, interleaved (A B C A B C ...), so a noisy moment on a
 * shared machine hits the baseline and the server alike, and keeps each entry's median round by
 * `score` (req/s by default). One back-to-back pair is what made single runs swing by 2x here.
 */
export async function interleaved<K extends string, V>(rounds: number, runs: Record<K, () => Promise<V>>, score: (v: V) => number): Promise<Record<K, V>> {
  const results = {} as Record<K, V[]>
  for (let i = 0; i < rounds; i++) {
    for (const key of Object.keys(runs) as K[]) {
      const value = await runs[key]()
      if (!results[key]) results[key] = []
      results[key].push(value)
    }
  }
  const out = {} as Record<K, V>
  for (const key of Object.keys(results) as K[]) {
    const sorted = [...results[key]].sort((a, b) => score(a) - score(b))
    out[key] = sorted[Math.floor(sorted.length / 2)] as V
  }
  return out
}
