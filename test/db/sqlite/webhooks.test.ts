/**
 * The SQLite webhooks repository's query plans: the worker runs its statements on every cycle and
 * the request thread on every listing, so none may walk a whole table. The delivery history only
 * grows (retention keeps 30 days); a statement that scans it gets slower with every delivery made.
 */
import { Database } from 'bun:sqlite'
import { expect, test } from 'bun:test'
import { migrate } from '../../../src/db/sqlite/migrate'
import { createWebhookRepo } from '../../../src/db/sqlite/webhooks'

/** Every SQL statement the repository declares, over a migrated in-memory database. */
function declaredStatements(): { db: Database; sqls: string[] } {
  const db = new Database(':memory:')
  migrate(db)
  const sqls: string[] = []
  const recording = new Proxy(db, {
    get(target, prop) {
      if (prop === 'query' || prop === 'prepare') {
        return (sql: string) => {
          sqls.push(sql)
          return target.query(sql)
        }
      }
      const value = Reflect.get(target, prop)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  createWebhookRepo(recording)
  return { db, sqls }
}

test('no statement of the webhooks repository scans a whole table', () => {
  const { db, sqls } = declaredStatements()
  expect(sqls.length).toBeGreaterThan(20)
  const scans = sqls.flatMap((sql) =>
    db
      .query<{ detail: string }, []>(`EXPLAIN QUERY PLAN ${sql}`)
      .all()
      .filter((step) => /^SCAN (?!json_each)/.test(step.detail))
      .map((step) => `${step.detail}  <-  ${sql.replace(/\s+/g, ' ')}`),
  )
  expect(scans).toEqual([])
  db.close()
})

test("the live-lease count reads only the lease index (the claim's per-subscription limit)", () => {
  const { db, sqls } = declaredStatements()
  const count = sqls.find((sql) => sql.includes('COUNT(*)') && sql.includes('lease_until_ms >') && sql.includes('GROUP BY subscription_id'))
  expect(count).toBeDefined()
  const plan = db
    .query<{ detail: string }, []>(`EXPLAIN QUERY PLAN ${count}`)
    .all()
    .map((step) => step.detail)
  expect(plan[0]).toBe('SEARCH webhook_deliveries USING INDEX webhook_deliveries_leased (lease_until_ms>?)')
  db.close()
})
