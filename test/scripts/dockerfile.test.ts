/**
 * The Dockerfile, checked without a Docker engine: its structure (multi-stage, Bun builds, slim
 * non-root run stage, data volume, HEALTHCHECK, exec-form entrypoint so SIGTERM reaches mlc),
 * the build context (.dockerignore), and its runtime contract: the image's ENV, CMD and
 * HEALTHCHECK command, run here, give a server the health check passes against.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { runCli, startServerProcess } from '../e2e/server'
import { freePort, tempDir } from '../helpers'

const ROOT = new URL('../..', import.meta.url).pathname
const KEYWORDS = new Set([
  'FROM',
  'RUN',
  'CMD',
  'LABEL',
  'EXPOSE',
  'ENV',
  'ADD',
  'COPY',
  'ENTRYPOINT',
  'VOLUME',
  'USER',
  'WORKDIR',
  'ARG',
  'ONBUILD',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
])

interface Instruction {
  keyword: string
  args: string
  stage: number
}

/** Instructions of a Dockerfile, continuation lines joined, comments dropped, with their stage index. */
function parse(text: string): Instruction[] {
  const out: Instruction[] = []
  let stage = -1
  let pending = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!pending && (line === '' || line.startsWith('#'))) continue
    pending += `${line.replace(/\\$/, '').trim()} `
    if (line.endsWith('\\')) continue
    const m = /^(\S+)\s+(.*)$/.exec(pending.trim())
    pending = ''
    if (!m) continue
    const keyword = (m[1] as string).toUpperCase()
    if (keyword === 'FROM') stage++
    out.push({ keyword, args: (m[2] as string).trim(), stage })
  }
  return out
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
const all = parse(dockerfile)
const lastStage = Math.max(...all.map((i) => i.stage))
const run = all.filter((i) => i.stage === lastStage)
const build = all.filter((i) => i.stage === 0)
const runOne = (k: string) => run.filter((i) => i.keyword === k).at(-1)?.args
/** ENV of the run stage (KEY=value pairs). */
const runEnv = Object.fromEntries(
  run.filter((i) => i.keyword === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1] as string, m[2] as string])),
)

describe('Dockerfile structure', () => {
  test('only known instructions; the first line sets the syntax', () => {
    expect(dockerfile.startsWith('# syntax=docker/dockerfile:1\n')).toBe(true)
    for (const i of all) expect(KEYWORDS.has(i.keyword)).toBe(true)
  })

  test('multi-stage: a build stage that installs with npm ci and compiles with Bun', () => {
    expect(lastStage).toBeGreaterThanOrEqual(1)
    expect(build[0]?.args).toMatch(/^node:\d+[\w.-]*-slim AS build$/)
    expect(build.some((i) => i.keyword === 'COPY' && i.args === 'package.json package-lock.json ./')).toBe(true)
    const runs = build.filter((i) => i.keyword === 'RUN').map((i) => i.args)
    expect(runs.some((r) => r.startsWith('npm ci'))).toBe(true)
    expect(runs.some((r) => r.includes('npm run build') && r.includes('./dist/mlc version'))).toBe(true)
    // npm ci comes before the sources are copied, so dependency layers are cached across code changes.
    const ci = build.findIndex((i) => i.keyword === 'RUN' && i.args.startsWith('npm ci'))
    const sources = build.findIndex((i) => i.keyword === 'COPY' && i.args === '. .')
    expect(ci).toBeLessThan(sources)
  })

  test('run stage: a pinned slim base, only the binary copied from the build, a non-root user', () => {
    expect(run[0]?.args).toMatch(/^debian:[a-z]+-slim AS run$/)
    const copies = run.filter((i) => i.keyword === 'COPY').map((i) => i.args)
    expect(copies).toEqual(['--from=build /src/dist/mlc /usr/local/bin/mlc'])
    const user = runOne('USER') ?? ''
    expect(user).toMatch(/^\d+:\d+$/)
    expect(user.startsWith('0:')).toBe(false)
    expect(run.find((i) => i.keyword === 'RUN')?.args).toContain(`useradd --system --uid ${user.split(':')[0]}`)
    // USER comes before the process starts.
    expect(run.findIndex((i) => i.keyword === 'USER')).toBeLessThan(run.findIndex((i) => i.keyword === 'ENTRYPOINT'))
    for (const i of all.filter((x) => x.keyword === 'FROM')) expect(i.args).not.toMatch(/:latest\b|^[^:]+ AS/)
  })

  test('data in a volume at MLC_DATA_DIR, the port exposed, health checked, SIGTERM delivered', () => {
    expect(runEnv.MLC_DATA_DIR).toBe('/data')
    expect(runOne('VOLUME')).toBe('["/data"]')
    expect(run.find((i) => i.keyword === 'RUN')?.args).toContain('chown mlc:mlc /data')
    expect(runOne('EXPOSE')).toBe(runEnv.MLC_PORT)
    expect(runEnv.MLC_HOST).toBe('0.0.0.0')
    expect(runOne('HEALTHCHECK')).toMatch(/^--interval=\d+s --timeout=\d+s .*CMD \["\/usr\/local\/bin\/mlc", "healthcheck"\]$/)
    expect(runOne('STOPSIGNAL')).toBe('SIGTERM')
    // Exec form: mlc is PID 1 and receives SIGTERM itself (a shell would swallow it).
    expect(JSON.parse(runOne('ENTRYPOINT') ?? 'null')).toEqual(['/usr/local/bin/mlc'])
    expect(JSON.parse(runOne('CMD') ?? 'null')).toEqual(['serve'])
  })

  test('.dockerignore keeps local builds, data and dependencies out of the context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n')
    for (const p of ['node_modules', 'dist', 'data', '.git']) expect(ignored).toContain(p)
    for (const f of ['package.json', 'package-lock.json', 'scripts/build.ts', 'src/main.ts']) expect(existsSync(join(ROOT, f))).toBe(true)
  })
})

describe('Dockerfile runtime contract', () => {
  const dir = tempDir('mlc-docker-')
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('CMD with the image ENV serves, and the HEALTHCHECK command passes against it (and fails once it stops)', async () => {
    const port = String(freePort())
    // The image's environment, with the volume and port mapped to this machine.
    const env = { ...runEnv, MLC_DATA_DIR: join(dir, 'data'), MLC_PORT: port }
    const cmd = JSON.parse(runOne('CMD') ?? '[]') as string[]
    const server = await startServerProcess(env.MLC_DATA_DIR, {
      cmd: [process.execPath, 'src/main.ts', ...cmd],
      env: { ...process.env, ...env } as Record<string, string>,
    })
    const health = JSON.parse(/CMD (\[.*\])$/.exec(runOne('HEALTHCHECK') ?? '')?.[1] ?? '[]') as string[]
    expect(health[0]).toBe('/usr/local/bin/mlc')
    try {
      // startServerProcess passes --port; the health check finds the server from MLC_PORT alone.
      const ok = await runCli(health.slice(1), { ...env, MLC_PORT: String(server.port) })
      expect(ok.code).toBe(0)
    } finally {
      expect(await server.stop()).toBe(0)
    }
    const down = await runCli(health.slice(1), { ...env, MLC_PORT: String(server.port) })
    expect(down.code).toBe(1)
    expect(down.stderr).toContain(`http://127.0.0.1:${server.port}/healthz`)
  }, 30_000)
})
