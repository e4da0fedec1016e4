/** The CLI: sites, tokens, JSON output, usage errors (exit 2), raw tokens never stored. */
import { afterAll, describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from '../e2e/server'
import { tempDir } from '../helpers'

const dir = tempDir()
const env = { MLC_DATA_DIR: dir }
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('mlc site', () => {
  test('create --json prints id, name, plan, rate_limit', async () => {
    const r = await runCli(['site', 'create', '--name', 'Acme', '--plan', 'starter', '--json'], env)
    expect(r.code).toBe(0)
    const site = JSON.parse(r.stdout)
    expect(site).toMatchObject({ name: 'Acme', plan: 'starter', rate_limit: 200 })
    expect(site.id).toBeGreaterThan(0)
    expect(site.publishable_key).toMatch(/^pk_/)
  })

  test('--rate-limit overrides the plan; update changes it; list shows it', async () => {
    const created = JSON.parse((await runCli(['site', 'create', '--name', 'Bench', '--rate-limit', '100000', '--json'], env)).stdout)
    expect(created.rate_limit).toBe(100000)
    const updated = JSON.parse((await runCli(['site', 'update', String(created.id), '--plan', 'growth', '--rate-limit', 'default', '--json'], env)).stdout)
    expect(updated).toMatchObject({ plan: 'growth', rate_limit: 600 })
    const list = JSON.parse((await runCli(['site', 'list', '--json'], env)).stdout)
    expect(list.find((s: { id: number }) => s.id === created.id).plan).toBe('growth')
  })

  const usage: [string, string[], RegExp][] = [
    ['unknown flag', ['site', 'create', '--name', 'x', '--colour', 'red'], /--colour/],
    ['missing --name', ['site', 'create'], /--name/],
    ['bad plan', ['site', 'create', '--name', 'x', '--plan', 'gold'], /plan/],
    ['bad rate limit', ['site', 'create', '--name', 'x', '--rate-limit', 'fast'], /--rate-limit/],
    ['unknown command', ['frobnicate'], /frobnicate/],
    ['token without --site', ['token', 'create', '--scopes', 'read'], /--site/],
    ['bad scopes', ['token', 'create', '--site', '1', '--scopes', 'admin'], /scopes/],
  ]
  for (const [label, args, pattern] of usage) {
    test(`${label}: one-line error naming it, exit 2`, async () => {
      const r = await runCli(args, env)
      expect(r.code).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(pattern)
    })
  }
})

describe('mlc token', () => {
  test('create, list (prefix only), rotate, revoke', async () => {
    const site = JSON.parse((await runCli(['site', 'create', '--name', 'Tok', '--json'], env)).stdout)
    const created = JSON.parse((await runCli(['token', 'create', '--site', String(site.id), '--scopes', 'read,write', '--name', 'ci', '--json'], env)).stdout)
    expect(created.token).toMatch(/^mlc_[A-Za-z0-9_-]{43}$/)
    expect(created).toMatchObject({ site_id: site.id, name: 'ci', scopes: ['read', 'write'] })

    const listed = await runCli(['token', 'list', '--site', String(site.id), '--json'], env)
    expect(listed.stdout).not.toContain(created.token)
    const row = JSON.parse(listed.stdout)[0]
    expect(created.token.startsWith(row.prefix.replace('…', ''))).toBe(true)

    const rotated = JSON.parse((await runCli(['token', 'rotate', String(created.id), '--json'], env)).stdout)
    expect(rotated.token).not.toBe(created.token)
    expect(rotated.id).toBe(created.id)

    const revoked = await runCli(['token', 'revoke', String(created.id)], env)
    expect(revoked.code).toBe(0)
    expect(JSON.parse((await runCli(['token', 'list', '--site', String(site.id), '--json'], env)).stdout)[0].revoked_utc).toBeTruthy()

    // No file under the data dir contains a raw token.
    for (const f of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, f))
      expect(bytes.includes(Buffer.from(created.token))).toBe(false)
      expect(bytes.includes(Buffer.from(rotated.token))).toBe(false)
    }
  })

  test('version prints the version', async () => {
    const r = await runCli(['version'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^mlc \d+\.\d+\.\d+/)
  })
})
