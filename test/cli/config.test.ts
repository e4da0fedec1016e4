/**
 * Bad configuration values: the real CLI exits 2 with one line naming the variable (or flag) and
 * what it takes, before anything starts. Integers are plain decimal digits within each option's
 * range, as the API takes them (Number() would read "0x1F90" as 8080 and "" as a random port).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../src/config'
import { tempDir } from '../helpers'

const ROOT = new URL('../..', import.meta.url).pathname
const dir = tempDir()
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/**
 * `bun src/main.ts <args>`, killed after 10 s: a value that is wrongly accepted starts a server
 * (on loopback, in a temp dir) instead of exiting, and the test then fails rather than hangs.
 */
async function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const proc = Bun.spawn([process.execPath, 'src/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, MLC_DATA_DIR: join(dir, 'data'), MLC_HOST: '127.0.0.1', MLC_LOG_LEVEL: 'error', ...env },
    stdout: 'ignore',
    stderr: 'pipe',
    timeout: 10_000,
  })
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited])
  return { code: proc.signalCode ? null : code, stderr }
}

describe('bad integer values exit 2 with one line naming the option', () => {
  const cases: [label: string, args: string[], env: Record<string, string>, line: string][] = [
    ['hex port', ['serve'], { MLC_PORT: '0x1F90' }, 'mlc: MLC_PORT must be an integer from 0 to 65535 (plain decimal digits), got "0x1F90"'],
    ['exponent port', ['serve'], { MLC_PORT: '1e3' }, 'mlc: MLC_PORT must be an integer from 0 to 65535 (plain decimal digits), got "1e3"'],
    ['port with a space', ['serve'], { MLC_PORT: ' 80' }, 'mlc: MLC_PORT must be an integer from 0 to 65535 (plain decimal digits), got " 80"'],
    ['empty port', ['serve'], { MLC_PORT: '' }, 'mlc: MLC_PORT must be an integer from 0 to 65535 (plain decimal digits), got ""'],
    ['port past 65535', ['serve'], { MLC_PORT: '65536' }, 'mlc: MLC_PORT must be an integer from 0 to 65535 (plain decimal digits), got "65536"'],
    [
      'a newline stays on one line',
      ['serve'],
      { MLC_PORT: '80\n81' },
      'mlc: MLC_PORT must be an integer from 0 to 65535 (plain decimal digits), got "80\\n81"',
    ],
    [
      'the flag is named when the flag is bad',
      ['serve', '--port', '0x1F90'],
      {},
      'mlc: --port must be an integer from 0 to 65535 (plain decimal digits), got "0x1F90"',
    ],
    ['a flag given empty', ['--port='], {}, 'mlc: --port must be an integer from 0 to 65535 (plain decimal digits), got ""'],
    [
      'below the minimum',
      ['serve'],
      { MLC_FLUSH_INTERVAL_MS: '10' },
      'mlc: MLC_FLUSH_INTERVAL_MS must be an integer from 50 to 3600000 (plain decimal digits), got "10"',
    ],
    [
      'past what a timer takes',
      ['serve'],
      { MLC_SHUTDOWN_TIMEOUT_MS: '3000000000' },
      'mlc: MLC_SHUTDOWN_TIMEOUT_MS must be an integer from 0 to 600000 (plain decimal digits), got "3000000000"',
    ],
    [
      'a fraction',
      ['serve'],
      { MLC_WEBHOOK_CONCURRENCY: '2.5' },
      'mlc: MLC_WEBHOOK_CONCURRENCY must be an integer from 1 to 10000 (plain decimal digits), got "2.5"',
    ],
    [
      'a plus sign',
      ['serve'],
      { MLC_WIDGET_RATE_PER_IP: '+300' },
      'mlc: MLC_WIDGET_RATE_PER_IP must be an integer from 1 to 1000000 (plain decimal digits), got "+300"',
    ],
  ]
  for (const [label, args, env, line] of cases) {
    test(label, async () => {
      const r = await run(args, env)
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: `${line}\n` })
    })
  }
})

describe('bad list values exit 2 with one line naming the option', () => {
  const allowed = 'must be comma-separated numbers from 0 to 2592000 (plain decimal digits, like "30,120,600,3600,21600")'
  for (const value of ['', '30,,60', '30, 60', '30,', '1e3', '0x10', '-1', '2592001', 'soon']) {
    test(`MLC_WEBHOOK_BACKOFF=${JSON.stringify(value)}`, async () => {
      const r = await run(['serve'], { MLC_WEBHOOK_BACKOFF: value })
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: `mlc: MLC_WEBHOOK_BACKOFF ${allowed}, got ${JSON.stringify(value)}\n` })
    })
  }
})

describe('CLI integer arguments are plain decimals too', () => {
  const cases: [args: string[], what: string, raw: string][] = [
    [['site', 'update', '0x1', '--name', 'x'], 'site ID', '0x1'],
    [['token', 'list', '--site', '1e0'], '--site', '1e0'],
    [['site', 'create', '--name', 'x', '--rate-limit', ' 100'], '--rate-limit', ' 100'],
  ]
  for (const [args, what, raw] of cases) {
    test(`mlc ${args.join(' ')}`, async () => {
      const r = await run(args, {})
      expect({ code: r.code, stderr: r.stderr }).toEqual({
        code: 2,
        stderr: `mlc: ${what} must be a positive integer (plain decimal digits), got ${JSON.stringify(raw)}\n`,
      })
    })
  }
})

describe('what is accepted', () => {
  test('plain decimals within range, including the ends and port 0 (the OS picks one)', () => {
    expect(loadConfig({}, { MLC_PORT: '0' }).port).toBe(0)
    expect(loadConfig({}, { MLC_PORT: '65535' }).port).toBe(65535)
    expect(loadConfig({ port: '8081' }, { MLC_PORT: '9000' }).port).toBe(8081)
    expect(loadConfig({}, { MLC_FLUSH_INTERVAL_MS: '50' }).flushIntervalMs).toBe(50)
    expect(loadConfig({}, { MLC_WEBHOOK_BACKOFF: '0' }).webhookBackoff).toEqual([0])
    // Fractions of a second are a plain decimal too.
    expect(loadConfig({}, { MLC_WEBHOOK_BACKOFF: '0.6,30' }).webhookBackoff).toEqual([0.6, 30])
  })

  test('every default parses', () => {
    const config = loadConfig({}, {})
    expect(config.port).toBe(8080)
    expect(config.webhookBackoff).toEqual([30, 120, 600, 3600, 21600])
  })
})
