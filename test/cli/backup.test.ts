/**
 * `mlc backup` and `mlc restore` against a running server: a backup taken during writes restores
 * to a consistent database the server runs on; restore refuses a live server's data dir.
 */

import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { chmodSync, chownSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { databasePath } from '../../src/db/data-dir'
import { runCli, startServerProcess } from '../e2e/server'
import { tempDir } from '../helpers'

const root = tempDir('mlc-backup-')
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Tag names of site 1, in id order, read straight from a database file. */
function tagNames(dbFile: string): string[] {
  const db = new Database(dbFile, { readonly: true })
  try {
    return db
      .query<{ name: string }, []>('SELECT name FROM tags WHERE site_id = 1 ORDER BY id')
      .all()
      .map((r) => r.name)
  } finally {
    db.close()
  }
}

describe('mlc backup during writes, then mlc restore', () => {
  const live = join(root, 'live')
  const restored = join(root, 'restored')
  const file = join(root, 'snapshot.db')

  test('the backup is a consistent prefix of the writes and a server runs on the restored copy', async () => {
    const server = await startServerProcess(live)
    try {
      expect((await runCli(['site', 'update', '1', '--rate-limit', '100000'], { MLC_DATA_DIR: live })).code).toBe(0)
      const { token } = JSON.parse((await runCli(['token', 'create', '--site', '1', '--scopes', 'read,write', '--json'], { MLC_DATA_DIR: live })).stdout)
      const acked: string[] = []
      let stop = false
      // One writer, one tag at a time: a consistent snapshot holds exactly the first k of them.
      const writer = (async () => {
        for (let i = 0; !stop; i++) {
          const name = `t-${String(i).padStart(5, '0')}`
          const res = await fetch(`${server.url}/v1/tags`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ name, color: '#2563eb' }),
          })
          expect(res.status).toBe(201)
          acked.push(name)
        }
      })()
      while (acked.length < 50) await Bun.sleep(5)
      const before = acked.length
      const backup = await runCli(['backup', file, '--json'], { MLC_DATA_DIR: live })
      const after = acked.length
      while (acked.length < after + 20) await Bun.sleep(5)
      stop = true
      await writer
      expect(backup.code).toBe(0)
      const out = JSON.parse(backup.stdout)
      expect(out.file).toBe(file)
      expect(out.bytes).toBeGreaterThan(0)
      expect(out.schema_version).toBeGreaterThan(0)

      const names = tagNames(file)
      expect(names.length).toBeGreaterThanOrEqual(before)
      expect(names.length).toBeLessThanOrEqual(after + 1)
      expect(names).toEqual(acked.slice(0, names.length))

      // Restoring into the running server's data dir is refused, naming the process.
      const refused = await runCli(['restore', file], { MLC_DATA_DIR: live })
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(/cannot restore: another mlc process \(pid \d+\) is using the data dir/)
      expect(tagNames(databasePath(live)).length).toBe(acked.length)

      // Into a fresh data dir it works, and a server serves the snapshot with the same token.
      const r = await runCli(['restore', file, '--json'], { MLC_DATA_DIR: restored })
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ data_dir: restored, previous: null })
      const db = new Database(databasePath(restored), { readonly: true })
      expect(db.query<{ integrity_check: string }, []>('PRAGMA integrity_check').get()?.integrity_check).toBe('ok')
      expect(db.query('PRAGMA foreign_key_check').all()).toEqual([])
      db.close()
      const second = await startServerProcess(restored)
      try {
        const res = await fetch(`${second.url}/v1/tags?limit=100`, { headers: { authorization: `Bearer ${token}` } })
        expect(res.status).toBe(200)
        const body = (await res.json()) as { data: { name: string }[] }
        expect(body.data.map((t) => t.name)).toEqual(names.slice(0, body.data.length))
      } finally {
        expect(await second.stop()).toBe(0)
      }
    } finally {
      expect(await server.stop()).toBe(0)
    }
  }, 60_000)

  test('restore over an existing database keeps the replaced one beside it', async () => {
    const r = await runCli(['restore', file], { MLC_DATA_DIR: live })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/the database it replaced is kept at .*mlc\.db\.pre-restore-/)
    const kept = readdirSync(live).find((f) => f.startsWith('mlc.db.pre-restore-'))
    expect(kept).toBeDefined()
    // The kept copy has every write, including those after the snapshot; the live one is the snapshot.
    expect(tagNames(join(live, kept!)).length).toBeGreaterThan(tagNames(databasePath(live)).length)
    expect(tagNames(databasePath(live))).toEqual(tagNames(file))
  })
})

describe('file modes', () => {
  test('a backup, a restored database and the copy it replaced are 0600, whatever the umask or the backup file', async () => {
    const mode = (f: string) => (statSync(f).mode & 0o777).toString(8)
    const dir = join(root, 'modes')
    expect((await runCli(['site', 'list'], { MLC_DATA_DIR: dir })).code).toBe(0)
    // The test runs with umask 022: without care, new files are 0644.
    const file = join(root, 'modes-backup.db')
    expect((await runCli(['backup', file], { MLC_DATA_DIR: dir })).code).toBe(0)
    expect(mode(file)).toBe('600')
    chmodSync(file, 0o644) // copied around by hand meanwhile
    const target = join(root, 'modes-restored')
    expect((await runCli(['restore', file], { MLC_DATA_DIR: target })).code).toBe(0)
    expect(mode(target)).toBe('700')
    expect(mode(databasePath(target))).toBe('600')
    expect((await runCli(['restore', file], { MLC_DATA_DIR: target })).code).toBe(0)
    const kept = readdirSync(target).find((f) => f.startsWith('mlc.db.pre-restore-'))
    expect(mode(join(target, kept!))).toBe('600')
    expect(mode(databasePath(target))).toBe('600')
  })
})

describe('restore run as root', () => {
  test('the restored database keeps the owner of the one it replaces (sudo mlc restore)', async () => {
    // CI runs as root (.ci/run installs packages); the service user here is a made-up uid.
    expect(process.getuid?.()).toBe(0)
    const dir = join(root, 'owned')
    expect((await runCli(['site', 'list'], { MLC_DATA_DIR: dir })).code).toBe(0)
    chownSync(dir, 4242, 4242)
    chownSync(databasePath(dir), 4242, 4242)
    const file = join(root, 'owned-backup.db')
    expect((await runCli(['backup', file], { MLC_DATA_DIR: dir })).code).toBe(0)
    expect((await runCli(['restore', file], { MLC_DATA_DIR: dir })).code).toBe(0)
    expect(statSync(databasePath(dir)).uid).toBe(4242)
    expect(statSync(databasePath(dir)).gid).toBe(4242)
  })
})

describe('refusals', () => {
  const cases: [string, () => string[], Record<string, string>, RegExp][] = [
    ['backup without FILE', () => ['backup'], {}, /needs a FILE/],
    ['restore without FILE', () => ['restore'], {}, /needs a FILE/],
  ]
  for (const [label, args, env, pattern] of cases) {
    test(`${label}: usage error, exit 2`, async () => {
      const r = await runCli(args(), { MLC_DATA_DIR: join(root, 'unused'), ...env })
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(pattern)
    })
  }

  test('backup of a data dir without a database fails and creates nothing', async () => {
    const empty = join(root, 'empty')
    const r = await runCli(['backup', join(root, 'x.db')], { MLC_DATA_DIR: empty })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/no database at .*mlc\.db/)
    expect(existsSync(empty)).toBe(false)
    expect(existsSync(join(root, 'x.db'))).toBe(false)
  })

  test('backup refuses to overwrite a file unless --force', async () => {
    const dir = join(root, 'force')
    expect((await runCli(['site', 'list'], { MLC_DATA_DIR: dir })).code).toBe(0)
    const target = join(root, 'exists.db')
    writeFileSync(target, 'precious')
    const r = await runCli(['backup', target], { MLC_DATA_DIR: dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/already exists/)
    expect(await Bun.file(target).text()).toBe('precious')
    expect((await runCli(['backup', target, '--force'], { MLC_DATA_DIR: dir })).code).toBe(0)
    expect(tagNames(target)).toEqual([])
    expect(readdirSync(root).some((f) => f.includes('.partial-'))).toBe(false)
  })

  test('restore refuses a file that is not an mlc database, and leaves the data dir alone', async () => {
    const dir = join(root, 'garbage-target')
    const garbage = join(root, 'garbage.db')
    writeFileSync(garbage, 'this is not sqlite at all, just some bytes'.repeat(100))
    const r = await runCli(['restore', garbage], { MLC_DATA_DIR: dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/not an mlc backup|cannot be opened/)
    expect(existsSync(databasePath(dir))).toBe(false)

    const plain = join(root, 'plain.db')
    const db = new Database(plain, { create: true })
    db.exec('CREATE TABLE unrelated (x)')
    db.close()
    const r2 = await runCli(['restore', plain], { MLC_DATA_DIR: dir })
    expect(r2.code).toBe(1)
    expect(r2.stderr).toMatch(/no schema_migrations table/)
  })

  test('restore refuses a backup from a newer mlc', async () => {
    const src = join(root, 'newer-src')
    expect((await runCli(['site', 'list'], { MLC_DATA_DIR: src })).code).toBe(0)
    const db = new Database(databasePath(src))
    db.exec("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'from-the-future', 0)")
    db.close()
    const file = join(root, 'newer.db')
    expect((await runCli(['backup', file], { MLC_DATA_DIR: src })).code).toBe(0)
    const r = await runCli(['restore', file], { MLC_DATA_DIR: join(root, 'newer-target') })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/schema version 999, newer than this mlc knows/)
  })
})
