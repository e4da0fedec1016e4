/**
 * The cross-compiled linux-arm64 binary, run under qemu-user emulation: it starts, serves the API
 * and the embedded SDK, runs its worker thread and CLI, and stops on SIGTERM. Needs Debian's
 * qemu-user-static and libc6-arm64-cross (.ci/run installs them); skipped, with a note, without.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'bun'
import { tempDir } from '../helpers'
import { startServerProcess, withoutSourceTree } from './server'

const ROOT = new URL('../..', import.meta.url).pathname
const QEMU = ['/usr/bin/qemu-aarch64-static', '/usr/bin/qemu-aarch64'].find((p) => existsSync(p))
const SYSROOT = '/usr/aarch64-linux-gnu'
const canEmulate = QEMU !== undefined && existsSync(join(SYSROOT, 'lib/ld-linux-aarch64.so.1'))
if (!canEmulate) console.warn('arm64 binary tests skipped: install qemu-user-static and libc6-arm64-cross (see .ci/run)')

const dir = tempDir('mlc-arm64-')
const emptyEnv = { PATH: join(dir, 'empty-path'), HOME: dir }
const arm64 = (...args: string[]) => [QEMU as string, '-L', SYSROOT, join(dir, 'out/mlc-linux-arm64'), ...args]

beforeAll(() => {
  if (!canEmulate) return
  const r = spawnSync([process.execPath, 'scripts/build.ts', '--all', '--outdir', join(dir, 'out')], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`)
  mkdirSync(emptyEnv.PATH)
}, 300_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe.skipIf(!canEmulate)('dist/mlc-linux-arm64 under emulation', () => {
  test('is an arm64 executable that prints its version', () => {
    const head = readFileSync(join(dir, 'out/mlc-linux-arm64')).subarray(0, 20)
    // ELF, 64-bit, e_machine 183 (AArch64).
    expect([...head.subarray(0, 5)]).toEqual([0x7f, 0x45, 0x4c, 0x46, 2])
    expect(head.readUInt16LE(18)).toBe(183)
    const r = spawnSync(arm64('version'), { env: emptyEnv, cwd: dir })
    expect(r.stderr.toString()).toBe('')
    expect(r.stdout.toString()).toMatch(/^mlc \d+\.\d+\.\d+ \(commit \S+, built \d{4}-/)
  }, 60_000)

  test('serves the API with a token from its own CLI, the embedded SDK, is ready, and stops on SIGTERM', async () => {
    const data = join(dir, 'data')
    const server = await startServerProcess(data, { cmd: withoutSourceTree(arm64('serve')), env: emptyEnv, startTimeoutMs: 60_000 })
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
      const created = spawnSync(arm64('token', 'create', '--site', '1', '--scopes', 'read', '--json', '--data-dir', data), { env: emptyEnv, cwd: dir })
      expect(created.exitCode).toBe(0)
      const { token } = JSON.parse(created.stdout.toString())
      const who = await fetch(`${server.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })
      expect(who.status).toBe(200)
      expect(((await who.json()) as { data: { scopes: string[] } }).data.scopes).toEqual(['read'])
      const sdk = await fetch(`${server.url}/assets/js/mlc-visitor-sdk.js`)
      expect(await sdk.text()).toBe(await Bun.file(join(ROOT, 'sdk/dist/mlc-visitor-sdk.js')).text())
      // Ready means the webhook worker thread runs inside the emulated binary too.
      let ready = 0
      for (let i = 0; i < 300 && ready !== 200; i++) {
        ready = (await fetch(`${server.url}/readyz`)).status
        if (ready !== 200) await Bun.sleep(100)
      }
      expect(ready).toBe(200)
    } finally {
      expect(await server.stop()).toBe(0)
    }
    expect(server.output()).toContain('"msg":"stopped"')
    // Its threads came from inside the binary: the source tree was hidden from it.
    expect(server.output()).not.toContain('worker crashed')
    expect(server.output()).not.toContain('thread unavailable')
    expect(server.output()).not.toContain('access log written on the request thread')
  }, 120_000)
})
