/**
 * scripts/mlc.service: `systemd-analyze verify` accepts it without a warning, it carries the
 * hardening the docs promise, and its exposure score stays low. systemd-analyze ships with the
 * `systemd` package (present on Debian); .ci/run installs it when missing.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'bun'
import { tempDir } from '../helpers'

const ROOT = new URL('../..', import.meta.url).pathname
const unit = readFileSync(join(ROOT, 'scripts/mlc.service'), 'utf8')
const dir = tempDir('mlc-unit-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The unit with ExecStart pointing at an executable that exists here (verify checks it). */
function unitAt(content: string): string {
  const fake = join(dir, 'mlc')
  writeFileSync(fake, '#!/bin/sh\nexit 0\n')
  chmodSync(fake, 0o755)
  const path = join(dir, 'mlc.service')
  writeFileSync(path, content.replaceAll('/usr/local/bin/mlc', fake))
  return path
}

/** `[Service]` settings as key -> values. */
function settings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim())
    if (m) out.set(m[1] as string, [...(out.get(m[1] as string) ?? []), m[2] as string])
  }
  return out
}

describe('scripts/mlc.service', () => {
  test('systemd-analyze verify accepts it with no warning', () => {
    const r = spawnSync(['systemd-analyze', 'verify', unitAt(unit)], { stderr: 'pipe', stdout: 'pipe' })
    expect(r.stderr.toString()).toBe('')
    expect(r.exitCode).toBe(0)
  })

  test('the check is real: an unknown key or a bad value is reported', () => {
    const broken = unit.replace('NoNewPrivileges=yes', 'NoNewPrivileges=yes\nProtectSystem=sideways\nRestartOnTuesdays=yes')
    const r = spawnSync(['systemd-analyze', 'verify', unitAt(broken)], { stderr: 'pipe', stdout: 'pipe' })
    expect(r.stderr.toString()).toContain("Unknown key 'RestartOnTuesdays'")
    expect(r.stderr.toString()).toMatch(/Failed to parse protect system value/)
  })

  test('own user, state directory, restart on failure, hardening, stop timeout above mlc’s own 10 s', () => {
    const s = settings(unit)
    const one = (k: string) => s.get(k)?.at(-1)
    expect(one('User')).toBe('mlc')
    expect(one('Group')).toBe('mlc')
    expect(one('StateDirectory')).toBe('mlc')
    expect(s.get('Environment')).toContain('MLC_DATA_DIR=/var/lib/mlc')
    expect(one('ExecStart')).toBe('/usr/local/bin/mlc serve')
    expect(one('Restart')).toBe('on-failure')
    // A configuration error exits 2; restarting would only repeat it.
    expect(one('RestartPreventExitStatus')).toBe('2')
    expect(one('KillSignal')).toBe('SIGTERM')
    expect(Number(one('TimeoutStopSec'))).toBeGreaterThan(10)
    for (const [k, v] of Object.entries({
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      PrivateTmp: 'yes',
      ProtectHome: 'yes',
      PrivateDevices: 'yes',
      RestrictSUIDSGID: 'yes',
      CapabilityBoundingSet: '',
    })) {
      expect(`${k}=${one(k)}`).toBe(`${k}=${v}`)
    }
    // Bun's JIT needs writable+executable memory: this one would crash mlc at start.
    expect(s.has('MemoryDenyWriteExecute')).toBe(false)
    expect(s.get('WantedBy')).toEqual(['multi-user.target'])
  })

  test('systemd-analyze security rates the exposure at or below 2.5 (OK)', () => {
    const r = spawnSync(['systemd-analyze', 'security', '--offline=yes', unitAt(unit)], { stderr: 'pipe', stdout: 'pipe' })
    const m = /Overall exposure level for mlc\.service: ([\d.]+)/.exec(r.stdout.toString())
    expect(m).not.toBeNull()
    expect(Number(m?.[1])).toBeLessThanOrEqual(2.5)
  })
})
