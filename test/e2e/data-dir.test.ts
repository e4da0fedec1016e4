/**
 * The data dir holds webhook secrets, identity secrets and the dashboard's signing key: after a
 * real start the folder is 0700 and every file mlc made in it 0600 (the test runs with umask 022,
 * under which files are born 0644); a data dir an older version left readable is tightened at
 * start, with one log line saying what changed.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { chmodSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers'
import { runCli, startServerProcess } from './server'

const root = tempDir('mlc-data-dir-')
afterAll(() => rmSync(root, { recursive: true, force: true }))

const mode = (path: string) => `0${(statSync(path).mode & 0o777).toString(8)}`
const modesIn = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, mode(join(dir, f))]))

describe('data dir permissions', () => {
  const dir = join(root, 'var', 'mlc')
  const files = ['mlc.db', 'mlc.db-shm', 'mlc.db-wal', 'mlc.lock', 'mlc.pid']

  test('a first start creates the folder 0700 and the database, its -wal and -shm, the lock and the pid file 0600', async () => {
    expect(process.umask()).toBe(0o022)
    const server = await startServerProcess(dir)
    try {
      // A write through the API after the start, so SQLite has made its -wal and -shm by now.
      const { token } = JSON.parse((await runCli(['token', 'create', '--site', '1', '--scopes', 'read,write', '--json'], { MLC_DATA_DIR: dir })).stdout)
      const res = await fetch(`${server.url}/v1/tags`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'private', color: '#2563eb' }),
      })
      expect(res.status).toBe(201)
      expect(mode(dir)).toBe('0700')
      expect(modesIn(dir)).toEqual(Object.fromEntries(files.map((f) => [f, '0600'])))
    } finally {
      expect(await server.stop()).toBe(0)
    }
    expect(server.output()).not.toContain('tightened data dir permissions')
  }, 30_000)

  test('a data dir an older version left readable (0755, files 0644) is made private at start, in one log line', async () => {
    chmodSync(dir, 0o755)
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644)
    const server = await startServerProcess(dir)
    expect(await server.stop()).toBe(0)
    expect(mode(dir)).toBe('0700')
    for (const f of readdirSync(dir)) expect([f, mode(join(dir, f))]).toEqual([f, '0600'])
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"tightened data dir permissions"'))
      .map((l) => JSON.parse(l))
    expect(lines).toHaveLength(1)
    const changed = lines[0].changed as { path: string; from: string; to: string }[]
    expect(changed).toContainEqual({ path: dir, from: '0755', to: '0700' })
    expect(changed).toContainEqual({ path: join(dir, 'mlc.db'), from: '0644', to: '0600' })
    expect(changed).toContainEqual({ path: join(dir, 'mlc.db-wal'), from: '0644', to: '0600' })
  }, 30_000)
})
