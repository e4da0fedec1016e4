/**
 * Upgrades through the CLI: a newer binary migrates an older data dir on start and keeps its
 * data; an older binary refuses a newer data dir with a clear message and leaves it untouched.
 */

import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { MIGRATIONS } from '../../src/db/migrations'
import { lockDataDir } from '../../src/db/sqlite/lock'
import { latestSchemaVersion, migrate } from '../../src/db/sqlite/migrate'
import { databasePath, openDatabase } from '../../src/db/sqlite/open'
import { runCli, startServerProcess } from '../e2e/server'
import { tempDir } from '../helpers'

const root = tempDir('mlc-migrate-')
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Versions recorded in a data dir's schema_migrations. */
function versions(dataDir: string): number[] {
  const db = new Database(databasePath(dataDir), { readonly: true })
  try {
    return db
      .query<{ version: number }, []>('SELECT version FROM schema_migrations ORDER BY version')
      .all()
      .map((r) => r.version)
  } finally {
    db.close()
  }
}

describe('schema upgrades', () => {
  test('an older data dir (first migration only) is upgraded by serve, keeping its rows', async () => {
    expect(MIGRATIONS.length).toBeGreaterThan(1)
    const dir = join(root, 'old')
    const db = openDatabase(databasePath(dir))
    migrate(db, MIGRATIONS.slice(0, 1))
    db.exec("INSERT INTO sites (id, name, plan, publishable_key, created_ms) VALUES (1, 'Old site', 'free', 'pk_old', 0)")
    db.exec("INSERT INTO tags (site_id, name, color, created_ms) VALUES (1, 'legacy', '#000000', 0)")
    db.close()
    expect(versions(dir)).toEqual([1])

    const server = await startServerProcess(dir)
    try {
      expect(server.output()).toContain('upgraded database schema')
      expect(versions(dir)).toEqual(MIGRATIONS.map((m) => m.version))
      const { token } = JSON.parse((await runCli(['token', 'create', '--site', '1', '--scopes', 'read', '--json'], { MLC_DATA_DIR: dir })).stdout)
      const res = await fetch(`${server.url}/v1/tags`, { headers: { authorization: `Bearer ${token}` } })
      expect(((await res.json()) as { data: { name: string }[] }).data.map((t) => t.name)).toEqual(['legacy'])
    } finally {
      expect(await server.stop()).toBe(0)
    }
  }, 30_000)

  test('a CLI command upgrades too (site list on an older data dir)', async () => {
    const dir = join(root, 'old-cli')
    const db = openDatabase(databasePath(dir))
    migrate(db, MIGRATIONS.slice(0, 1))
    db.close()
    const r = await runCli(['site', 'list', '--json'], { MLC_DATA_DIR: dir })
    expect(r.code).toBe(0)
    expect(versions(dir).at(-1)).toBe(latestSchemaVersion())
  })
})

describe('a data dir from a newer mlc', () => {
  const dir = join(root, 'newer')
  const future = latestSchemaVersion() + 1

  test('is refused by serve and by every command, with exit 1 and a message that says what to do', async () => {
    expect((await runCli(['site', 'list'], { MLC_DATA_DIR: dir })).code).toBe(0)
    const db = new Database(databasePath(dir))
    db.exec(`INSERT INTO schema_migrations (version, name, applied_ms) VALUES (${future}, 'from-the-future', 0)`)
    db.exec(`CREATE TABLE future_table (x INTEGER)`)
    db.close()
    const schemaBefore = new Database(databasePath(dir), { readonly: true })
    const before = schemaBefore.query('SELECT type, name, sql FROM sqlite_master ORDER BY name').all()
    schemaBefore.close()

    for (const args of [
      ['serve', '--port', '0'],
      ['site', 'list'],
      ['token', 'list', '--site', '1'],
    ]) {
      const r = await runCli(args, { MLC_DATA_DIR: dir })
      expect(r.code).toBe(1)
      const line = r.stderr.trim()
      expect(line.split('\n')).toHaveLength(1)
      expect(line).toContain(`The database schema is version ${future}, newer than this mlc knows (${latestSchemaVersion()})`)
      expect(line).toContain('Run a newer mlc binary')
    }
    const after = new Database(databasePath(dir), { readonly: true })
    expect(after.query('SELECT type, name, sql FROM sqlite_master ORDER BY name').all()).toEqual(before)
    expect(versions(dir).at(-1)).toBe(future)
    after.close()
  })

  test('a refused serve leaves no lock or pid file behind', () => {
    expect(existsSync(join(dir, 'mlc.pid'))).toBe(false)
    lockDataDir(dir, 'test').release()
  })
})
