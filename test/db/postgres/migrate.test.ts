/** PostgreSQL migrations: the whole list applies, instances starting together all come up, newer schemas are refused. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { SchemaTooNewError } from '../../../src/db/errors'
import { MIGRATIONS } from '../../../src/db/migrations'
import { openPostgres } from '../../../src/db/postgres/connection'
import { migratePostgres } from '../../../src/db/postgres/migrate'
import { freshPostgresDatabase, TEST_DATABASE_URL, type TestDatabase } from './harness'

describe.skipIf(!TEST_DATABASE_URL)('migratePostgres', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await freshPostgresDatabase()
  })
  afterAll(() => db?.drop())

  test('every migration is recorded, and a second run applies nothing', async () => {
    const rows: { version: number }[] = await db.sql`SELECT version FROM schema_migrations ORDER BY version`
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version))
    expect(await migratePostgres(db.sql)).toEqual([])
  })

  test('the same tables as SQLite', async () => {
    const rows: { table_name: string }[] = await db.sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`
    expect(rows.map((r) => r.table_name)).toEqual(
      [
        'admin_sessions',
        'admin_setup_links',
        'admin_sites',
        'admins',
        'api_tokens',
        'chat_messages',
        'chat_sessions',
        'chat_settings',
        'conversation_starters',
        'feedback',
        'handoffs',
        'idempotency_keys',
        'kb_articles',
        'kb_passages',
        'meta',
        'rate_buckets',
        'schema_migrations',
        'segment_members',
        'segments',
        'sites',
        'tags',
        'token_daily_usage',
        'visitor_events',
        'visitors',
        'webhook_attempts',
        'webhook_deliveries',
        'webhook_events',
        'webhook_subscriptions',
      ].sort(),
    )
  })

  test('instances starting at once on an empty database all come up (advisory lock)', async () => {
    const name = `mlc_race_${Date.now().toString(36)}`
    const admin = openPostgres({ url: TEST_DATABASE_URL as string, poolSize: 1, statementTimeoutMs: 30_000, prepare: false })
    await admin.unsafe(`CREATE DATABASE ${name}`)
    const url = new URL(TEST_DATABASE_URL as string)
    url.pathname = `/${name}`
    const pools = [1, 2, 3, 4].map(() => openPostgres({ url: url.toString(), poolSize: 1, statementTimeoutMs: 30_000, prepare: true }))
    try {
      const applied = await Promise.all(pools.map((p) => migratePostgres(p)))
      expect(applied.filter((a) => a.length === MIGRATIONS.length)).toHaveLength(1)
      expect(applied.filter((a) => a.length === 0)).toHaveLength(3)
    } finally {
      for (const p of pools) await p.close()
      await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`)
      await admin.close()
    }
  })

  test('a schema newer than this binary is refused, untouched', async () => {
    await db.sql`INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'future', 0)`
    try {
      await expect(migratePostgres(db.sql)).rejects.toBeInstanceOf(SchemaTooNewError)
    } finally {
      await db.sql`DELETE FROM schema_migrations WHERE version = 999`
    }
  })
})
