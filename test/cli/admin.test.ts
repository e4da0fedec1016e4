/** `mlc admin create|list` through the real CLI entry. */
import { afterAll, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { runCli } from '../e2e/server'
import { tempDir } from '../helpers'

const dir = tempDir()
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const env = { MLC_DATA_DIR: dir }

test('creates admins for every site or for one, lists them without hashes, and explains bad input', async () => {
  // A site to scope to (the data dir has none until a server starts).
  expect((await runCli(['site', 'create', '--name', 'Acme'], env)).code).toBe(0)
  const owner = await runCli(['admin', 'create', '--email', 'Owner@Example.com', '--password', 'owner password', '--json'], env)
  expect(owner.code).toBe(0)
  expect(JSON.parse(owner.stdout)).toMatchObject({ email: 'owner@example.com', sites: 'all' })
  const scoped = await runCli(['admin', 'create', '--email', 'agent@example.com', '--password', 'agent password', '--site', '1'], env)
  expect(scoped.code).toBe(0)
  expect(scoped.stdout).toContain('agent@example.com')
  expect(scoped.stdout).toContain('sites: 1')

  const list = await runCli(['admin', 'list', '--json'], env)
  expect(JSON.parse(list.stdout).map((a: { email: string; sites: unknown }) => [a.email, a.sites])).toEqual([
    ['owner@example.com', 'all'],
    ['agent@example.com', [1]],
  ])
  expect(list.stdout).not.toContain('argon2')

  const dup = await runCli(['admin', 'create', '--email', 'owner@example.com', '--password', 'owner password'], env)
  expect(dup.code).toBe(2)
  expect(dup.stderr).toContain('already exists')
  const short = await runCli(['admin', 'create', '--email', 'x@example.com', '--password', 'short'], env)
  expect(short.code).toBe(2)
  expect(short.stderr).toContain('password must be at least 8 characters')
  const missing = await runCli(['admin', 'create', '--email', 'x@example.com'], env)
  expect(missing.code).toBe(2)
  expect(missing.stderr).toContain('--password is required')
  const noSite = await runCli(['admin', 'create', '--email', 'y@example.com', '--password', 'long enough', '--site', '9'], env)
  expect(noSite.code).toBe(1)
  expect(noSite.stderr).toContain('No site with id 9')
  expect((await runCli(['admin', 'nope'], env)).code).toBe(2)
}, 60_000)
