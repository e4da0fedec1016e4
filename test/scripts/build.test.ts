/**
 * `scripts/build.ts --all`: the host binary and the cross-compiled linux arm64 binary. Bun
 * fetches the arm64 runtime from the npm registry (@oven/bun-linux-aarch64) once and caches it.
 * The arm64 file cannot run here; its ELF header proves what it is.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'bun'
import { tempDir } from '../helpers'

const ROOT = new URL('../..', import.meta.url).pathname
const out = tempDir('mlc-build-')
afterAll(() => rmSync(out, { recursive: true, force: true }))

let log = ''
beforeAll(() => {
  const r = spawnSync([process.execPath, 'scripts/build.ts', '--all', '--outdir', out, '--commit', 'abc1234'], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  log = r.stdout.toString() + r.stderr.toString()
  if (r.exitCode !== 0) throw new Error(`build failed:\n${log}`)
}, 240_000)

/** ELF class, byte order and machine of a file. */
function elf(path: string): { magic: string; bits: number; machine: number } {
  const head = readFileSync(path).subarray(0, 20)
  return { magic: head.subarray(0, 4).toString('latin1'), bits: head[4] === 2 ? 64 : 32, machine: head.readUInt16LE(18) }
}

const EM_X86_64 = 62
const EM_AARCH64 = 183

describe('npm run build -- --all', () => {
  test('writes the host binary, which runs and reports the commit it was given', () => {
    const bin = join(out, 'mlc')
    expect(elf(bin)).toEqual({ magic: '\x7fELF', bits: 64, machine: process.arch === 'arm64' ? EM_AARCH64 : EM_X86_64 })
    const r = spawnSync([bin, 'version'], { env: {} })
    expect(r.exitCode).toBe(0)
    expect(r.stdout.toString()).toMatch(/^mlc \d+\.\d+\.\d+ \(commit abc1234, built \d{4}-\d\d-\d\dT/)
  })

  test('cross-compiles dist/mlc-linux-arm64: a 64-bit aarch64 executable of the same program', () => {
    const arm = join(out, 'mlc-linux-arm64')
    expect(elf(arm)).toEqual({ magic: '\x7fELF', bits: 64, machine: EM_AARCH64 })
    expect(statSync(arm).mode & 0o111).not.toBe(0)
    // Same embedded program: sizes differ only by the runtime, by well under 10%.
    const ratio = statSync(arm).size / statSync(join(out, 'mlc')).size
    expect(ratio).toBeGreaterThan(0.9)
    expect(ratio).toBeLessThan(1.1)
    expect(log).toContain('--target=bun-linux-arm64')
  })

  test('puts the typed TypeScript client next to the binary, generated from the document it serves', () => {
    // clients/ts/schema.d.ts is kept equal to the served document's types (test/clients/ts.test.ts).
    for (const file of ['schema.d.ts', 'index.ts', 'package.json', 'README.md']) {
      expect(readFileSync(join(out, 'clients/ts', file), 'utf8')).toBe(readFileSync(join(ROOT, 'clients/ts', file), 'utf8'))
    }
    expect(log).toContain(`wrote the TypeScript client to ${join(out, 'clients/ts')}`)
  })

  test('records a start profile with the first build and lays out both final builds with it', () => {
    expect(log).not.toContain('could not record the start profile')
    const compiles = log.split('\n').filter((l) => l.startsWith('bun build --compile'))
    // host without a profile, host with it, arm64 with it
    expect(compiles).toHaveLength(3)
    expect(compiles[0]).not.toContain('--bytecode-order=')
    for (const c of compiles.slice(1)) expect(c).toMatch(/--bytecode-order=\S+start\.order/)
    for (const c of compiles) expect(c).toContain('--compile-jit-policy=64')
  })
})
