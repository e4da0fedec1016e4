/** The WAL checkpointer thread: copies the WAL into the database file off the writer's thread, and hands back on stop. */
import type { Database } from 'bun:sqlite'
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { BACKSTOP_CHECKPOINT_PAGES, startCheckpointer } from '../../src/db/checkpointer'
import { openDatabase } from '../../src/db/open'
import { tempDir } from '../helpers'

let dir: string
let path: string
let db: Database
beforeEach(() => {
  dir = tempDir()
  path = join(dir, 'c.db')
  db = openDatabase(path)
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
})
afterEach(() => {
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

const autocheckpoint = () => db.query<{ wal_autocheckpoint: number }, []>('PRAGMA wal_autocheckpoint').get()?.wal_autocheckpoint
const insert = (n: number) => {
  const stmt = db.query('INSERT INTO t (v) VALUES (?)')
  for (let i = 0; i < n; i++) stmt.run('x'.repeat(500))
}

describe('checkpointer', () => {
  test('the thread checkpoints the WAL into the database file; the writer only keeps a backstop', async () => {
    const c = startCheckpointer(db, path, 30)
    try {
      expect(await c.ready).toBe(true)
      expect(autocheckpoint()).toBe(BACKSTOP_CHECKPOINT_PAGES)
      const before = statSync(path).size
      insert(500) // one commit each: what the writer alone would leave in the WAL
      let grown = false
      for (let i = 0; i < 100 && !grown; i++) {
        await Bun.sleep(20)
        grown = statSync(path).size > before + 200_000
      }
      expect(grown).toBe(true)
    } finally {
      await c.stop()
    }
    expect(autocheckpoint()).toBe(1000)
    expect(db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM t').get()?.n).toBe(500)
  })

  test('a thread that cannot open the database reports it and leaves checkpointing to the writer', async () => {
    const errors: string[] = []
    const c = startCheckpointer(db, '/proc/definitely/not/here.db', 30, (m) => errors.push(m))
    expect(await c.ready).toBe(false)
    expect(errors.length).toBe(1)
    expect(autocheckpoint()).toBe(1000)
    await c.stop()
  })
})
