/** scripts/bench.ts: refuses to start a load section without wrk, saying how to install it. */
import { afterAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { spawnSync } from 'bun'
import { tempDir } from '../helpers'

const ROOT = new URL('../..', import.meta.url).pathname
const emptyPath = tempDir('mlc-bench-path-')
afterAll(() => rmSync(emptyPath, { recursive: true, force: true }))

/** Runs the bench with `args` and a PATH on which no wrk is found. */
function benchWithoutWrk(args: string[]) {
  const r = spawnSync([process.execPath, 'scripts/bench.ts', ...args], {
    cwd: ROOT,
    env: { PATH: emptyPath, HOME: emptyPath },
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: 60_000,
  })
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() }
}

describe('npm run bench', () => {
  test('without wrk: one line saying how to install it, non-zero exit, nothing measured', () => {
    const r = benchWithoutWrk(['--only', 'api', '--seconds', '3'])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('apt-get install wrk')
  })

  test('an unknown section is refused with the list of sections', () => {
    const r = benchWithoutWrk(['--only', 'apii'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('unknown section apii; choose from sdk, startup, api, track, webhooks')
  })
})
