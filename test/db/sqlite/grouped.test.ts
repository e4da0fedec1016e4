/** Group commit: jobs of one event-loop turn share a transaction, each in its own savepoint; promises settle after COMMIT. */
import { Database } from 'bun:sqlite'
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { GroupCommit } from '../../src/db/group-commit'
import { openDatabase } from '../../src/db/open'
import { tempDir } from '../helpers'

let dir: string
let db: Database
let reader: Database
beforeEach(() => {
  dir = tempDir()
  db = openDatabase(join(dir, 'g.db'))
  db.exec('CREATE TABLE t (v TEXT PRIMARY KEY)')
  reader = new Database(join(dir, 'g.db'), { readonly: true })
})
afterEach(() => {
  reader.close()
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

const insert = (v: string) => () => db.query('INSERT INTO t (v) VALUES (?) RETURNING v').get(v)
const visible = (v: string) => reader.query<{ n: number }, [string]>('SELECT COUNT(*) AS n FROM t WHERE v = ?').get(v)?.n

describe('GroupCommit', () => {
  test('jobs queued in one turn run in one transaction and resolve only after it commits', async () => {
    const g = new GroupCommit(db)
    const seenByOthers: (number | undefined)[] = []
    const a = g.run(insert('a'))
    const b = g.run(() => {
      // Same transaction as "a": another connection cannot see "a" yet.
      seenByOthers.push(visible('a'))
      return insert('b')()
    })
    const settled = await Promise.all([a, b])
    expect(settled).toEqual([{ v: 'a' }, { v: 'b' }])
    expect(seenByOthers).toEqual([0])
    expect([visible('a'), visible('b')]).toEqual([1, 1])
  })

  test('a failing job rolls back only its own writes and rejects only its own promise', async () => {
    const g = new GroupCommit(db)
    const ok1 = g.run(insert('x'))
    const bad = g.run(() => {
      insert('half-written')()
      throw new Error('boom')
    })
    const ok2 = g.run(insert('y'))
    await expect(bad).rejects.toThrow('boom')
    expect(await ok1).toEqual({ v: 'x' })
    expect(await ok2).toEqual({ v: 'y' })
    expect([visible('x'), visible('y'), visible('half-written')]).toEqual([1, 1, 0])
  })

  test('a job that breaks a constraint fails alone; later batches still run', async () => {
    const g = new GroupCommit(db)
    await g.run(insert('dup'))
    const [first, second] = await Promise.allSettled([g.run(insert('dup')), g.run(insert('fresh'))])
    expect(first.status).toBe('rejected')
    expect(second).toEqual({ status: 'fulfilled', value: { v: 'fresh' } })
  })

  test('when the commit itself cannot happen, every job of the batch rejects', async () => {
    const g = new GroupCommit(db)
    const blocker = new Database(join(dir, 'g.db'))
    blocker.exec('PRAGMA busy_timeout = 0')
    db.exec('PRAGMA busy_timeout = 0')
    blocker.exec('BEGIN IMMEDIATE')
    try {
      const results = await Promise.allSettled([g.run(insert('p')), g.run(insert('q'))])
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    } finally {
      blocker.exec('ROLLBACK')
      blocker.close()
    }
    expect(visible('p')).toBe(0)
  })
})
