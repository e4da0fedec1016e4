/**
 * Migration 008 on a database that already has events: each gets the visitor key its body names
 * (so erasing that visitor finds it), the same on both engines; bodies stay as they were.
 */
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SQL } from 'bun'
import { MIGRATIONS } from '../../../src/db/migrations'
import { migratePostgres } from '../../../src/db/postgres/migrate'
import { createPostgresWebhookRepo } from '../../../src/db/postgres/webhooks'
import { migrate } from '../../../src/db/sqlite/migrate'
import { databasePath, openDatabase } from '../../../src/db/sqlite/open'
import { createSqliteRepos } from '../../../src/db/sqlite/repos'
import { asAsync } from './engines'
import { freshPostgresDatabase, TEST_DATABASE_URL } from './harness'

const BEFORE_008 = MIGRATIONS.filter((m) => m.version < 8)
const T = 1_700_000_000_000
/** Events as an earlier version stored them (no visitor_key column yet). */
const OLD_EVENTS: [string, string, string][] = [
  ['evt_1', 'handoff', '{"id":"evt_1","event":"handoff","session_id":"cs_1","visitor":{"key":"u_1","name":"Jay","email":null},"summary":"hi"}'],
  ['evt_2', 'feedback', '{"id":"evt_2","event":"feedback","session_id":"cs_2","visitor":{"key":null,"name":null,"email":null},"rating":5}'],
  ['evt_3', 'ping', '{"id":"evt_3","event":"ping","created_utc":"2026-11-25T12:00:00.000Z"}'],
  ['evt_4', 'handoff', '{"id":"evt_4","event":"handoff","visitor":{"key":"anon:ü \\"x\\"","name":null,"email":null}}'],
]

/** Inserts OLD_EVENTS with the columns migration 003 made, through `exec`. */
async function seed(exec: (sql: string, params: unknown[]) => unknown) {
  await exec("INSERT INTO sites (name, plan, publishable_key, created_ms) VALUES ('one', 'free', 'pk_one', 0)", [])
  for (const [id, type, body] of OLD_EVENTS) {
    await exec('INSERT INTO webhook_events (id, site_id, type, body, created_ms) VALUES ($1, 1, $2, $3, $4)', [id, type, body, T])
  }
}

test('SQLite: 008 fills visitor_key from each body', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlc-008-'))
  try {
    const db = openDatabase(databasePath(dir))
    migrate(db, BEFORE_008)
    await seed((sql, params) => db.query(sql).run(...(params as never[])))
    expect(migrate(db)).toEqual([8])
    const w = asAsync(createSqliteRepos(db).webhooks)
    expect((await Promise.all(OLD_EVENTS.map(([id]) => w.getEvent(id)))).map((e) => [e?.visitor_key, e?.body])).toEqual([
      ['u_1', OLD_EVENTS[0]?.[2]],
      [null, OLD_EVENTS[1]?.[2]],
      [null, OLD_EVENTS[2]?.[2]],
      ['anon:ü "x"', OLD_EVENTS[3]?.[2]],
    ])
    expect((await w.eventsOfVisitor(1, 'u_1')).map((e) => e.id)).toEqual(['evt_1'])
    db.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

describe.skipIf(!TEST_DATABASE_URL)('PostgreSQL', () => {
  test('008 fills visitor_key from each body, as on SQLite', async () => {
    const db = await freshPostgresDatabase({ migrate: false })
    try {
      await migratePostgres(db.sql, BEFORE_008)
      await seed((sql, params) => (db.sql as SQL).unsafe(sql, params))
      expect(await migratePostgres(db.sql)).toEqual([8])
      const w = createPostgresWebhookRepo(db.sql)
      expect((await Promise.all(OLD_EVENTS.map(([id]) => w.getEvent(id)))).map((e) => e?.visitor_key)).toEqual(['u_1', null, null, 'anon:ü "x"'])
      expect((await w.getEvent('evt_4'))?.body).toBe(OLD_EVENTS[3]?.[2] as string)
      expect((await w.eventsOfVisitor(1, 'anon:ü "x"')).map((e) => e.id)).toEqual(['evt_4'])
    } finally {
      await db.drop()
    }
  })
})
