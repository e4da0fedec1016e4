/** The WAL checkpointer thread: copies the WAL into the database file off the writer's thread, and hands back on stop. */
import type { Database } from 'bun:sqlite'
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { checkpointOnce, FORCED_RESTART_FRAMES } from '../../src/db/checkpoint-worker'
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

/**
 * The thread's tick. A WAL restart holds the write lock while it copies the newest frames and
 * fsyncs; issued on every tick under a steady write load it stalled the writer every 250 ms
 * (track p99 12-22 ms). Now a tick only copies, until the WAL is overdue.
 */
describe('checkpointOnce', () => {
  let thread: Database
  let issued: string[]
  /** The thread's connection, recording the statements the tick issues. */
  let recorded: Database
  beforeEach(() => {
    thread = openDatabase(path)
    thread.exec('PRAGMA busy_timeout = 0')
    db.exec('PRAGMA wal_autocheckpoint = 0') // only the tick checkpoints here
    issued = []
    recorded = new Proxy(thread, {
      get(target, key) {
        if (key === 'query') return (sql: string) => (issued.push(sql), target.query(sql))
        return Reflect.get(target, key)
      },
    })
  })
  afterEach(() => thread.close())

  const restarts = () => issued.filter((sql) => sql.includes('RESTART')).length
  const rows = () => db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM t').get()?.n
  /** WAL frames right now (a PASSIVE checkpoint reports them). */
  const walFrames = () => thread.query<{ log: number }, []>('PRAGMA wal_checkpoint(PASSIVE)').get()?.log

  test('while the WAL is under the limit, ticks copy every frame and never take the write lock', () => {
    for (let i = 0; i < 5; i++) {
      insert(40)
      expect(checkpointOnce(recorded, 10_000)).toBe(0)
    }
    expect(restarts()).toBe(0)
    // Fully copied, so the writer starts the WAL over by itself: it does not grow.
    insert(1)
    expect(walFrames()).toBeLessThan(5)
  })

  test('an overdue WAL is restarted: copied to the end, and the next write starts it over', () => {
    insert(40)
    const before = walFrames() ?? 0
    expect(before).toBeGreaterThan(10)
    expect(checkpointOnce(recorded, 10)).toBe(0)
    expect(restarts()).toBe(1)
    insert(1)
    expect(walFrames()).toBeLessThan(5)
    expect(rows()).toBe(41)
  })

  test('a reader on an old snapshot keeps its frames: the tick reports what is left and does not wait for it', () => {
    const reader = openDatabase(path)
    try {
      insert(10)
      reader.exec('BEGIN')
      reader.query('SELECT COUNT(*) FROM t').get() // holds a snapshot inside the WAL
      insert(40)
      expect(checkpointOnce(recorded, 10)).toBeGreaterThan(0)
      reader.exec('COMMIT')
      expect(checkpointOnce(recorded, 10)).toBe(0)
      expect(rows()).toBe(50)
    } finally {
      reader.close()
    }
  })

  test('the backstop in the writer sits above the forced restart', () => {
    expect(BACKSTOP_CHECKPOINT_PAGES).toBeGreaterThan(FORCED_RESTART_FRAMES)
  })
})
