/**
 * The served OpenAPI document through the tools users point at it: Redocly's `recommended` lint
 * (no error), openapi-typescript and @hey-api/openapi-ts (both generate). They are the npm dev
 * dependencies (never an npx download), and run with no network where this machine lets the
 * test make a network namespace: Redocly's telemetry and update check must not be needed.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { servedDocument, toolBin } from '../../scripts/client'
import { tempDir } from '../helpers'

const dir = tempDir('mlc-openapi-tools-')
const input = join(dir, 'openapi.json')
afterAll(() => rmSync(dir, { recursive: true, force: true }))
beforeAll(async () => {
  writeFileSync(input, JSON.stringify(await servedDocument()))
})

/** `unshare -n` (a network namespace with no way out) where the machine allows it; CI runs as root and does. */
const OFFLINE = spawnSync('unshare', ['-n', '--', 'true']).status === 0 ? ['unshare', '-n', '--'] : []
// Redocly's documented switch for its usage reports, and its update notice (also off without a terminal).
const QUIET = { REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' }

function run(tool: string, args: string[]): { status: number | null; output: string; stdout: string } {
  const [cmd, ...rest] = [...OFFLINE, toolBin(tool), ...args] as [string, ...string[]]
  const r = spawnSync(cmd, rest, { encoding: 'utf8', cwd: dir, env: { ...process.env, ...QUIET }, timeout: 60_000 })
  return { status: r.status, output: `${r.stdout}${r.stderr}`, stdout: r.stdout }
}

describe('the OpenAPI document and the tools', () => {
  test("passes Redocly's recommended ruleset with no error and few warnings", () => {
    const r = run('redocly', ['lint', input, '--extends', 'recommended', '--format', 'json'])
    const report = JSON.parse(r.stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; severity: string; message: string }[] }
    expect(report.problems.filter((p) => p.severity === 'error')).toEqual([])
    expect(report.totals.errors).toBe(0)
    expect(r.status).toBe(0)
    // What is left, and why: the project names no license; the test server's URL is localhost;
    // /healthz and /readyz answer no 4xx (they need no credential and take from no bucket).
    const warnings = [...new Set(report.problems.map((p) => p.ruleId))].sort()
    expect(warnings).toEqual(['info-license', 'no-server-example.com', 'operation-4xx-response'])
    expect(report.totals.warnings).toBe(4)
  }, 60_000)

  test('openapi-typescript generates types from it', () => {
    const output = join(dir, 'schema.d.ts')
    const r = run('openapi-typescript', [input, '--output', output])
    expect(r.output).not.toMatch(/error/i)
    expect(r.status).toBe(0)
    const types = readFileSync(output, 'utf8')
    expect(types).toContain('"/v1/tags": {')
    expect(types).toContain('listTags: {')
  }, 60_000)

  test('@hey-api/openapi-ts generates a typed SDK from it, one function per operationId', () => {
    const output = join(dir, 'hey-api')
    const r = run('openapi-ts', ['--input', input, '--output', output])
    expect(r.output).not.toMatch(/error/i)
    expect(r.status).toBe(0)
    const sdk = readFileSync(join(output, 'sdk.gen.ts'), 'utf8')
    for (const name of ['listTags', 'createTag', 'identifyVisitor', 'trackEvent', 'closeWidgetSession']) expect(sdk).toContain(`export const ${name} =`)
    expect(readFileSync(join(output, 'types.gen.ts'), 'utf8')).toContain('export type ErrorEnvelope = {')
  }, 60_000)
})
