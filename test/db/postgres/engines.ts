/**
 * Contract tests feed both engines the same input and compare what they answer: a fresh SQLite
 * store in a temp dir beside a fresh PostgreSQL database.
 */

import { expect } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SQL } from 'bun'
import type { AsyncRepo } from '../../../src/db/async-repo'
import { createPostgresSiteRepo } from '../../../src/db/postgres/sites'
import { migrate } from '../../../src/db/sqlite/migrate'
import { databasePath, openDatabase } from '../../../src/db/sqlite/open'
import { createSqliteRepos, type SqliteRepos } from '../../../src/db/sqlite/repos'
import { freshPostgresDatabase } from './harness'

export interface Engines {
  sqlite: SqliteRepos
  pg: SQL
  close(): Promise<void>
}

/** Both engines, empty and migrated. */
export async function openEngines(): Promise<Engines> {
  const dir = mkdtempSync(join(tmpdir(), 'mlc-contract-'))
  const db = openDatabase(databasePath(dir))
  migrate(db)
  const sqlite = createSqliteRepos(db)
  const pg = await freshPostgresDatabase()
  return {
    sqlite,
    pg: pg.sql,
    async close() {
      sqlite.close()
      rmSync(dir, { recursive: true, force: true })
      await pg.drop()
    },
  }
}

/** A synchronous SQLite repository seen through the async interface (what the store will hand out). */
export function asAsync<R extends object>(repo: R): AsyncRepo<R> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(repo)) {
    if (typeof v === 'function') out[k] = async (...args: unknown[]) => v(...args)
  }
  return out as AsyncRepo<R>
}

/**
 * Runs `script` against each engine's repository and expects the same answers, step by step.
 * The script returns the list of what each step answered.
 */
export async function sameOnBoth<R>(sqliteRepo: AsyncRepo<R>, pgRepo: AsyncRepo<R>, script: (repo: AsyncRepo<R>) => Promise<unknown[]>) {
  const fromSqlite = await script(sqliteRepo)
  const fromPg = await script(pgRepo)
  return { fromSqlite, fromPg }
}

/** Runs `script` on the SQLite side, then on the PostgreSQL side, expects the same answers, and returns PostgreSQL's. */
export async function expectSame<R>(sqlite: R, pg: R, script: (repos: R) => Promise<unknown[]>): Promise<unknown[]> {
  const fromSqlite = await script(sqlite)
  const fromPg = await script(pg)
  expect(fromPg).toEqual(fromSqlite)
  return fromPg
}

/** Sites 1 ('one') and 2 ('two') in both engines: what per-site repositories are compared over. */
export async function seedTwoSites(e: Engines): Promise<void> {
  for (const sites of [asAsync(e.sqlite.sites), createPostgresSiteRepo(e.pg)]) {
    await sites.insert('one', 'free', null, 'pk_one', 1000)
    await sites.insert('two', 'free', null, 'pk_two', 1000)
  }
}
