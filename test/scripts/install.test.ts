/**
 * scripts/install.sh, staged under DESTDIR (and as a dry run): it installs the binary, the unit,
 * the settings file and the data dir, prints the system commands (user, ownership, systemctl)
 * instead of running them, and touches nothing outside DESTDIR.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'bun'
import { tempDir } from '../helpers'

const ROOT = new URL('../..', import.meta.url).pathname
const script = join(ROOT, 'scripts/install.sh')
const dir = tempDir('mlc-install-')
const fakeBinary = join(dir, 'mlc-build')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

beforeAll(() => {
  // Stands in for dist/mlc: the script only copies it and asks it for its version.
  writeFileSync(fakeBinary, '#!/bin/sh\n[ "$1" = version ] && echo "mlc 9.9.9 (commit test, built now)"\n')
  chmodSync(fakeBinary, 0o755)
})

/** Runs install.sh with the given arguments and environment. */
function install(args: string[], env: Record<string, string>) {
  const r = spawnSync(['sh', script, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdout: 'pipe', stderr: 'pipe' })
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() }
}

/** The file mode bits as an octal string. */
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8)

describe('scripts/install.sh', () => {
  test('passes sh -n (POSIX syntax)', () => {
    expect(spawnSync(['sh', '-n', script]).exitCode).toBe(0)
  })

  test('DESTDIR install: binary, unit, settings file, data dir; system commands printed in order', () => {
    const dest = join(dir, 'root')
    const r = install(['--binary', fakeBinary], { DESTDIR: dest })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('installing mlc 9.9.9')

    const bin = join(dest, 'usr/local/bin/mlc')
    expect(readFileSync(bin, 'utf8')).toBe(readFileSync(fakeBinary, 'utf8'))
    expect(mode(bin)).toBe('755')
    expect(existsSync(`${bin}.new`)).toBe(false)
    const unit = join(dest, 'etc/systemd/system/mlc.service')
    expect(readFileSync(unit, 'utf8')).toBe(readFileSync(join(ROOT, 'scripts/mlc.service'), 'utf8'))
    expect(mode(unit)).toBe('644')
    expect(mode(join(dest, 'etc/mlc/mlc.env'))).toBe('640')
    expect(readFileSync(join(dest, 'etc/mlc/mlc.env'), 'utf8')).toContain('# MLC_PORT=8080')
    expect(mode(join(dest, 'var/lib/mlc'))).toBe('700')

    const commands = r.stdout.split('\n').filter((l) => l.startsWith('+ '))
    const order = [
      '+ useradd --system --user-group --home-dir /var/lib/mlc --no-create-home --shell /usr/sbin/nologin mlc',
      '+ chown mlc:mlc /var/lib/mlc',
      '+ systemctl daemon-reload',
      '+ systemctl enable mlc.service',
      '+ systemctl restart mlc.service',
    ]
    let at = -1
    for (const c of order) {
      const i = commands.indexOf(c)
      expect(`${c} at ${i}`).not.toBe(`${c} at -1`)
      expect(i).toBeGreaterThan(at)
      at = i
    }
    // Nothing happened to the real system.
    expect(spawnSync(['getent', 'passwd', 'mlc']).exitCode).not.toBe(0)
  })

  test('PREFIX, DATA_DIR and MLC_USER reach the unit; a second run keeps an edited settings file', () => {
    const dest = join(dir, 'custom')
    const env = { DESTDIR: dest, PREFIX: '/opt/mlc', DATA_DIR: '/srv/mlc', MLC_USER: 'chat' }
    expect(install(['--binary', fakeBinary, '--no-start'], env).code).toBe(0)
    const unit = readFileSync(join(dest, 'etc/systemd/system/mlc.service'), 'utf8')
    expect(unit).toContain('ExecStart=/opt/mlc/bin/mlc serve')
    expect(unit).toContain('Environment=MLC_DATA_DIR=/srv/mlc')
    expect(unit).toContain('ReadWritePaths=/srv/mlc')
    expect(unit).toMatch(/^User=chat$/m)
    expect(existsSync(join(dest, 'opt/mlc/bin/mlc'))).toBe(true)
    expect(existsSync(join(dest, 'srv/mlc'))).toBe(true)

    writeFileSync(join(dest, 'etc/mlc/mlc.env'), 'MLC_PORT=9000\n')
    const again = install(['--binary', fakeBinary, '--no-start'], env)
    expect(again.code).toBe(0)
    expect(again.stdout).not.toContain('+ systemctl restart')
    expect(readFileSync(join(dest, 'etc/mlc/mlc.env'), 'utf8')).toBe('MLC_PORT=9000\n')
  })

  test('--dry-run prints every step and writes nothing', () => {
    const dest = join(dir, 'dry')
    const r = install(['--binary', fakeBinary, '--dry-run'], { DESTDIR: dest })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`+ install -m 0755 ${fakeBinary} ${dest}/usr/local/bin/mlc.new`)
    expect(r.stdout).toContain('+ systemctl enable mlc.service')
    expect(existsSync(dest)).toBe(false)
  })

  test('refuses a missing binary, one that does not run, and unknown arguments', () => {
    expect(install(['--binary', join(dir, 'nope')], { DESTDIR: join(dir, 'x') })).toMatchObject({ code: 1 })
    const broken = join(dir, 'broken')
    writeFileSync(broken, '#!/bin/sh\nexit 1\n')
    chmodSync(broken, 0o755)
    const r = install(['--binary', broken], { DESTDIR: join(dir, 'x') })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('does not run on this machine')
    expect(install(['--frobnicate'], {}).code).toBe(2)
    expect(existsSync(join(dir, 'x'))).toBe(false)
  })
})
