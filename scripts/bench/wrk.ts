/**
 * The load generator: `wrk` (Debian's package, written in C), one thread, 32 connections. A
 * Node.js generator on these 2-core machines tops out below a bare Bun.serve and so measured
 * itself; wrk drives ~6× that from one thread. Every run goes through scripts/bench/wrk.lua,
 * which writes fresh ids into bodies, paces fixed-rate runs and prints the figures as JSON.
 */
import { spawn } from 'bun'

/** wrk threads per run: one, so the load generator takes one core at most. */
export const WRK_THREADS = 1
/** Connections per run, unless a section says otherwise. */
export const WRK_CONNECTIONS = 32

const SCRIPT = new URL('./wrk.lua', import.meta.url).pathname

/** The line printed when wrk is missing. */
export const WRK_MISSING = 'bench: wrk is not installed; install it with `sudo apt-get install wrk` (Debian/Ubuntu) and run again.'

/** The wrk executable on PATH, or null. */
export function findWrk(): string | null {
  return Bun.which('wrk')
}

export interface LoadResult {
  label: string
  requestsPerSec: number
  /** Latency percentiles in ms (wrk records microseconds). */
  p50: number
  p90: number
  p99: number
  max: number
  /** Socket errors: connect, read, write, timeouts. */
  errors: number
  /** Responses with a status over 399 (wrk's "non-2xx or 3xx"). */
  httpErrors: number
  total: number
  /** Fixed-rate runs: requests sent more than 1 ms after their slot (their wait is not in the latency). */
  late: number
  maxLateMs: number
}

export interface LoadOptions {
  connections?: number
  seconds?: number
  method?: string
  headers?: Record<string, string>
  /** The body; every `[<id>]` becomes a fresh id per request (a per-run random prefix and a counter). */
  body?: string
  /** Fixed overall request rate instead of as fast as possible. */
  rate?: number
}

/** The wrk command line for one run. */
export function wrkCommand(url: string, opts: LoadOptions = {}): string[] {
  const wrk = findWrk()
  if (!wrk) throw new Error(WRK_MISSING)
  const args = [
    wrk,
    '-t',
    String(WRK_THREADS),
    '-c',
    String(opts.connections ?? WRK_CONNECTIONS),
    '-d',
    `${opts.seconds ?? 8}s`,
    '--latency',
    '--timeout',
    '5s',
  ]
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`)
  args.push('-s', SCRIPT, url, '--')
  if (opts.method) args.push(`method=${opts.method}`)
  if (opts.body !== undefined) args.push(`body=${opts.body}`)
  if (opts.rate) args.push(`rate=${opts.rate}`)
  return args
}

/** Reads the `WRK_JSON` line of a wrk run's output into a result. */
export function parseWrkOutput(label: string, stdout: string): LoadResult {
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '))
  if (!line) throw new Error(`wrk printed no result for "${label}":\n${stdout}`)
  const r = JSON.parse(line.slice('WRK_JSON '.length)) as Record<string, number>
  const ms = (us: number | undefined) => Math.round((us ?? 0) / 10) / 100
  const total = r.requests ?? 0
  return {
    label,
    requestsPerSec: Math.round(total / ((r.duration_us ?? 1) / 1e6)),
    p50: ms(r.p50_us),
    p90: ms(r.p90_us),
    p99: ms(r.p99_us),
    max: ms(r.max_us),
    errors: (r.connect ?? 0) + (r.read ?? 0) + (r.write ?? 0) + (r.timeout ?? 0),
    httpErrors: r.status ?? 0,
    total,
    late: r.late ?? 0,
    maxLateMs: r.max_late_ms ?? 0,
  }
}

/** Runs wrk against `url` (loopback only) and returns its figures. */
export async function load(label: string, url: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const host = new URL(url).hostname
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) throw new Error(`bench loads loopback only, not ${host}`)
  const p = spawn(wrkCommand(url, opts), { stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  if (code !== 0) throw new Error(`wrk exited with ${code} for "${label}": ${err || out}`)
  return parseWrkOutput(label, out)
}
