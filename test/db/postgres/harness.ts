/**
 * PostgreSQL for tests: each test file gets a database of its own (created from the server named
 * by MLC_TEST_DATABASE_URL, migrated, dropped at the end). Without that variable the PostgreSQL
 * tests are skipped; `.ci/run` starts a server on loopback and sets it, so CI runs them.
 */
import type { SQL } from 'bun'
import { openPostgres } from '../../../src/db/postgres/connection'
import { migratePostgres } from '../../../src/db/postgres/migrate'

/** The test server's URL, or undefined when PostgreSQL tests are not to run. */
export const TEST_DATABASE_URL: string | undefined = process.env.MLC_TEST_DATABASE_URL || undefined

export interface TestDatabase {
  url: string
  sql: SQL
  /** Closes the pool and drops the database. */
  drop(): Promise<void>
}

/** A new database on the test server, migrated unless `opts.migrate` is false (a server under test migrates it). */
export async function freshPostgresDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  if (!TEST_DATABASE_URL) throw new Error('MLC_TEST_DATABASE_URL is not set')
  const name = `mlc_t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const admin = openPostgres({ url: TEST_DATABASE_URL, poolSize: 1, statementTimeoutMs: 30_000, prepare: false })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${name}`
  const sql = openPostgres({ url: url.toString(), poolSize: 4, statementTimeoutMs: 30_000, prepare: true })
  if (opts.migrate !== false) await migratePostgres(sql)
  return {
    url: url.toString(),
    sql,
    async drop() {
      await sql.close()
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.close()
    },
  }
}
