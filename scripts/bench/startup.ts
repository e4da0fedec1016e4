/**
 * Binary start and memory: the compiled `dist/mlc`, spawned, until its first `/healthz` 200
 * (on a fresh data dir: migrations and site 1 included; and on an existing one), and its resident
 * memory when idle after a little traffic. Baseline: a compiled bare Bun.serve ("hello") binary,
 * measured the same way in the same run. Targets: start under 100 ms, idle RSS under 80 MB.
 * "Cold" here means a new process; the executable itself is in the page cache (dropping the
 * cache would need root and disturb the machine).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn, spawnSync } from 'bun'
import { freePort } from '../free-port'
import { ROOT, type SectionResult } from './lib'

const RUNS = 15

/** CPU time (user + system, all threads) a process has used so far, in ms (10 ms resolution). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  // utime and stime are fields 14 and 15 of stat; index 11 and 12 after the ") " split. Ticks are 1/100 s.
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** Milliseconds from spawn to the first 200 from `path`, polling every millisecond. */
async function timeToFirst200(
  cmd: string[],
  port: number,
  env: Record<string, string>,
  path = '/healthz',
): Promise<{ ms: number; cpu: number; pid: number; stop(): Promise<void> }> {
  const started = performance.now()
  const proc = spawn(cmd, { env, stdout: 'ignore', stderr: 'ignore' })
  const url = `http://127.0.0.1:${port}${path}`
  for (;;) {
    try {
      const res = await fetch(url)
      if (res.status === 200) break
    } catch {}
    if (proc.exitCode !== null) throw new Error(`${cmd.join(' ')} exited with ${proc.exitCode}`)
    if (performance.now() - started > 15_000) throw new Error(`${cmd.join(' ')} did not answer within 15 s`)
    await Bun.sleep(1)
  }
  const ms = performance.now() - started
  return {
    ms,
    cpu: cpuMs(proc.pid),
    pid: proc.pid,
    async stop() {
      proc.kill('SIGTERM')
      await proc.exited
    },
  }
}

/** Resident set size of a process in MB, from /proc. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) / 1024
}

/** Fastest, median and 90th percentile. */
function stats(xs: number[]): { min: number; p50: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number
  return { min: s[0] as number, p50: at(0.5), p90: at(0.9) }
}

/** Builds dist/mlc and the baseline binary into `dir`. */
function buildBinaries(dir: string): { mlc: string; hello: string } {
  const b = spawnSync([process.execPath, 'scripts/build.ts'], { cwd: ROOT, stdout: 'ignore', stderr: 'pipe' })
  if (b.exitCode !== 0) throw new Error(`build failed: ${b.stderr.toString()}`)
  const src = join(dir, 'hello.ts')
  writeFileSync(src, "Bun.serve({ port: Number(process.env.PORT), hostname: '127.0.0.1', fetch: () => Response.json({ ok: true }) })\n")
  const hello = join(dir, 'hello')
  const h = spawnSync([process.execPath, 'build', '--compile', '--minify', src, '--outfile', hello], { stdout: 'ignore', stderr: 'pipe' })
  if (h.exitCode !== 0) throw new Error(`baseline build failed: ${h.stderr.toString()}`)
  return { mlc: join(ROOT, 'dist/mlc'), hello }
}

/** Runs the section; returns its Markdown and targets. */
export async function benchStartup(): Promise<SectionResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mlc-bench-start-'))
  try {
    const { mlc, hello } = buildBinaries(dir)
    const env = (dataDir: string, port: number) => ({
      MLC_DATA_DIR: dataDir,
      MLC_PORT: String(port),
      MLC_HOST: '127.0.0.1',
      MLC_LOG_LEVEL: 'warn',
      PORT: String(port),
    })
    const fresh: number[] = []
    const existing: number[] = []
    const base: number[] = []
    const cpu: { fresh: number[]; existing: number[]; base: number[] } = { fresh: [], existing: [], base: [] }
    const loadBefore = loadavg()[0] as number
    const warm = join(dir, 'warm')
    for (let i = 0; i < RUNS; i++) {
      let port = freePort()
      let r = await timeToFirst200([mlc, 'serve'], port, env(join(dir, `fresh-${i}`), port))
      fresh.push(r.ms)
      cpu.fresh.push(r.cpu)
      await r.stop()
      port = freePort()
      r = await timeToFirst200([mlc, 'serve'], port, env(warm, port))
      // Run 0 created the data dir.
      if (i > 0) {
        existing.push(r.ms)
        cpu.existing.push(r.cpu)
      }
      await r.stop()
      port = freePort()
      r = await timeToFirst200([hello], port, env(dir, port), '/')
      base.push(r.ms)
      cpu.base.push(r.cpu)
      await r.stop()
    }

    // Idle memory: a little traffic on every kind of page, then a quiet second.
    let port = freePort()
    const server = await timeToFirst200([mlc, 'serve'], port, env(warm, port))
    for (const path of ['/healthz', '/readyz', '/v1/openapi.json', '/v1/tags', '/dashboard/', '/assets/mlc-visitor-sdk.js']) {
      for (let i = 0; i < 20; i++) await (await fetch(`http://127.0.0.1:${port}${path}`)).arrayBuffer()
    }
    await Bun.sleep(1500)
    const mlcRss = rssMb(server.pid)
    await server.stop()
    port = freePort()
    const baseline = await timeToFirst200([hello], port, env(dir, port), '/')
    for (let i = 0; i < 120; i++) await (await fetch(`http://127.0.0.1:${port}/`)).arrayBuffer()
    await Bun.sleep(1500)
    const baseRss = rssMb(baseline.pid)
    await baseline.stop()

    const f = stats(fresh)
    const e = stats(existing)
    const b = stats(base)
    const [cf, ce, cb] = [stats(cpu.fresh), stats(cpu.existing), stats(cpu.base)]
    const ms = (n: number) => n.toFixed(1)
    const loadAfter = loadavg()[0] as number
    const markdown = [
      `### Binary start to first 200, ${RUNS} runs each; idle memory`,
      '',
      `Wall time from spawn to the first 200, and the CPU time the process had used by then (all threads, 10 ms ticks; less sensitive to other load on the machine). Load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after, on ${cpus().length} cores.`,
      '',
      '| run | min ms | p50 ms | p90 ms | p50 CPU ms | ratio to baseline (p50) |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      `| compiled bare Bun.serve (baseline) | ${ms(b.min)} | ${ms(b.p50)} | ${ms(b.p90)} | ${cb.p50} | 1.0× |`,
      `| dist/mlc, fresh data dir (migrations, site 1) | ${ms(f.min)} | ${ms(f.p50)} | ${ms(f.p90)} | ${cf.p50} | ${(f.p50 / b.p50).toFixed(1)}× |`,
      `| dist/mlc, existing data dir | ${ms(e.min)} | ${ms(e.p50)} | ${ms(e.p90)} | ${ce.p50} | ${(e.p50 / b.p50).toFixed(1)}× |`,
      '',
      '| process | idle RSS MB | ratio to baseline |',
      '| --- | ---: | ---: |',
      `| compiled bare Bun.serve (baseline) | ${baseRss.toFixed(1)} | 1.0× |`,
      `| dist/mlc after traffic on API, dashboard, assets, OpenAPI | ${mlcRss.toFixed(1)} | ${(mlcRss / baseRss).toFixed(1)}× |`,
      '',
      `Start p50 ${ms(e.p50)} ms on an existing data dir, ${ms(f.p50)} ms on a fresh one (target < 100 ms): ${Math.max(e.p50, f.p50) < 100 ? 'met' : 'NOT met'}. ` +
        `Idle RSS ${mlcRss.toFixed(1)} MB (target < 80 MB): ${mlcRss < 80 ? 'met' : 'NOT met'}.`,
    ].join('\n')
    return {
      markdown,
      checks: [
        {
          what: 'binary start to first 200 (p50, fresh / existing data dir)',
          figure: `${ms(f.p50)} / ${ms(e.p50)} ms`,
          target: '< 100 ms',
          met: Math.max(e.p50, f.p50) < 100,
        },
        { what: 'idle RSS after traffic', figure: `${mlcRss.toFixed(1)} MB`, target: '< 80 MB', met: mlcRss < 80 },
      ],
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
