/** The WAL checkpointer thread: copies the WAL into the database file off the writer's thread, and hands back on stop; the SQLite store runs it as its upkeep. */
import type { Database } from 'bun:sqlite'
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { type CheckpointState, checkpointOnce, FORCED_RESTART_FRAMES, WAL_TRIM_BYTES } from '../../../src/db/sqlite/checkpoint-worker'
import { BACKSTOP_CHECKPOINT_PAGES, startCheckpointer } from '../../../src/db/sqlite/checkpointer'
import { openDatabase } from '../../../src/db/sqlite/open'
import { sqliteStoreOver } from '../../../src/db/sqlite/store'
import { tempDir } from '../../helpers'

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
    // The last tick emptied the WAL file: it stays on disk (with -shm) but holds nothing.
    expect(statSync(`${path}-wal`).size).toBe(0)
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

describe("the SQLite store's upkeep", () => {
  /** Polls `check` every 10 ms for up to 5 s. */
  const eventually = async (check: () => boolean) => {
    for (let i = 0; i < 500 && !check(); i++) await Bun.sleep(10)
    return check()
  }

  test('startUpkeep runs the checkpoint thread; close() stops it with a last checkpoint that empties the WAL', async () => {
    const store = sqliteStoreOver(db, path, [], { checkpointIntervalMs: 30 })
    const errors: string[] = []
    store.startUpkeep((m) => errors.push(m))
    expect(await eventually(() => autocheckpoint() === BACKSTOP_CHECKPOINT_PAGES)).toBe(true)
    const before = statSync(path).size
    insert(500)
    expect(await eventually(() => statSync(path).size > before + 200_000)).toBe(true)
    await store.close()
    expect(errors).toEqual([])
    expect(statSync(`${path}-wal`).size).toBe(0)
    const again = openDatabase(path)
    try {
      expect(again.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM t').get()?.n).toBe(500)
    } finally {
      again.close()
    }
  })

  test('without a checkpoint interval no thread starts: the writer keeps checkpointing itself', async () => {
    const store = sqliteStoreOver(db, path)
    store.startUpkeep(() => {})
    await Bun.sleep(100)
    expect(autocheckpoint()).toBe(1000)
    await store.close()
  })

  test('a thread that cannot open the database is reported to onError; the writer keeps checkpointing', async () => {
    const store = sqliteStoreOver(db, '/proc/definitely/not/here.db', [], { checkpointIntervalMs: 30 })
    const errors: string[] = []
    store.startUpkeep((m) => errors.push(m))
    expect(await eventually(() => errors.length > 0)).toBe(true)
    expect(errors.length).toBe(1)
    expect(autocheckpoint()).toBe(1000)
    await store.close()
  })
})

/**
 * The thread's tick. A WAL restart holds the write lock while it copies the newest frames and
 * fsyncs; issued on every tick under a steady write load it stalled the writer every 250 ms
 * (track p99 12-22 ms). Now a tick only copies, until the WAL is overdue; and the WAL file is
 * trimmed by the tick when nobody writes, never by a writer's commit.
 */
describe('checkpointOnce', () => {
  let thread: Database
  let issued: string[]
  /** The thread's connection, recording the statements the tick issues. */
  let recorded: Database
  let state: CheckpointState
  beforeEach(() => {
    thread = openDatabase(path)
    thread.exec('PRAGMA busy_timeout = 0')
    db.exec('PRAGMA wal_autocheckpoint = 0') // only the tick checkpoints here
    issued = []
    recorded = new Proxy(thread, {
      get(target, key) {
        if (key !== 'query') return Reflect.get(target, key)
        return (sql: string) => {
          issued.push(sql)
          return target.query(sql)
        }
      },
    })
    state = { lastVersion: -1 }
  })
  afterEach(() => thread.close())

  const walPath = () => `${path}-wal`
  const walBytes = () => statSync(walPath()).size
  const issuedMode = (mode: string) => issued.filter((sql) => sql.includes(mode)).length
  const rows = () => db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM t').get()?.n
  /** WAL frames right now (a PASSIVE checkpoint reports them). */
  const walFrames = () => thread.query<{ log: number }, []>('PRAGMA wal_checkpoint(PASSIVE)').get()?.log
  const limits = (restartFrames: number, trimBytes = 1) => ({ restartFrames, walPath: walPath(), trimBytes })

  test('while writes keep coming under the limit, ticks copy every frame and never take the write lock', () => {
    for (let i = 0; i < 5; i++) {
      insert(40)
      expect(checkpointOnce(recorded, state, limits(10_000))).toBe(0)
    }
    expect(issuedMode('RESTART') + issuedMode('TRUNCATE')).toBe(0)
    // Fully copied, so the writer starts the WAL over by itself: it does not grow.
    insert(1)
    expect(walFrames()).toBeLessThan(5)
  })

  test('an overdue WAL is restarted: copied to the end, and the next write starts it over', () => {
    insert(40)
    expect(walFrames()).toBeGreaterThan(10)
    expect(checkpointOnce(recorded, state, limits(10))).toBe(0)
    expect(issuedMode('RESTART')).toBe(1)
    insert(1)
    expect(walFrames()).toBeLessThan(5)
    expect(rows()).toBe(41)
  })

  test('a writer never truncates the WAL file; the first tick without writes since the last one does', () => {
    // A journal_size_limit would make the first commit after a restart truncate the file, on the
    // request path (~120 ms for a 256 MB WAL on this VM's ext4).
    expect(db.query<{ journal_size_limit: number }, []>('PRAGMA journal_size_limit').get()?.journal_size_limit).toBe(-1)
    insert(200)
    const peak = walBytes()
    expect(peak).toBeGreaterThan(100_000)
    checkpointOnce(recorded, state, limits(10)) // restart under writes
    insert(1) // the first commit after a restart: with a journal_size_limit it would truncate here
    expect(walBytes()).toBe(peak)
    checkpointOnce(recorded, state, limits(10_000)) // copies the new frame; writes came since the last tick
    expect(issuedMode('TRUNCATE')).toBe(0)
    checkpointOnce(recorded, state, limits(10_000)) // nothing written since: trim
    expect(issuedMode('TRUNCATE')).toBe(1)
    expect(walBytes()).toBe(0)
    insert(1)
    expect(rows()).toBe(202)
  })

  test('a WAL file under the trim size is left as it is', () => {
    insert(40)
    checkpointOnce(recorded, state, limits(10_000, 10_000_000))
    checkpointOnce(recorded, state, limits(10_000, 10_000_000))
    expect(issuedMode('TRUNCATE')).toBe(0)
    expect(walBytes()).toBeGreaterThan(0)
  })

  test('after the disk was full, a WAL of any size is truncated once writes succeed again, not while the disk is full', () => {
    let free = 10 * 1024 * 1024
    const full = { ...limits(10_000, 10_000_000), freeBytes: () => free }
    insert(40) // the WAL grew before the disk filled
    const grown = walBytes()
    expect(grown).toBeGreaterThan(0)
    checkpointOnce(recorded, state, full)
    free = 0 // full: the WAL's room is the only room writes have, so it stays
    for (let i = 0; i < 3; i++) checkpointOnce(recorded, state, full)
    expect(issuedMode('TRUNCATE')).toBe(0)
    free = 10 * 1024 * 1024 // space returns
    checkpointOnce(recorded, state, full)
    expect(issuedMode('TRUNCATE')).toBe(0) // no write has succeeded yet
    insert(1)
    checkpointOnce(recorded, state, full) // copies the write
    checkpointOnce(recorded, state, full) // nothing written since: trim, though far under the trim size
    expect(issuedMode('TRUNCATE')).toBe(1)
    expect(walBytes()).toBe(0)
    // Then the usual rule again: a WAL under the trim size stays.
    insert(40)
    for (let i = 0; i < 3; i++) checkpointOnce(recorded, state, full)
    expect(issuedMode('TRUNCATE')).toBe(1)
    expect(rows()).toBe(81)
  })

  test('a reader on an old snapshot keeps its frames: the tick reports what is left and does not wait for it', () => {
    const reader = openDatabase(path)
    try {
      insert(10)
      reader.exec('BEGIN')
      reader.query('SELECT COUNT(*) FROM t').get() // holds a snapshot inside the WAL
      insert(40)
      expect(checkpointOnce(recorded, state, limits(10))).toBeGreaterThan(0)
      reader.exec('COMMIT')
      expect(checkpointOnce(recorded, state, limits(10))).toBe(0)
      expect(rows()).toBe(50)
    } finally {
      reader.close()
    }
  })

  test('the defaults: the writer backstop sits above the forced restart, which sits above the trim size', () => {
    expect(BACKSTOP_CHECKPOINT_PAGES).toBeGreaterThan(FORCED_RESTART_FRAMES)
    expect(FORCED_RESTART_FRAMES * 4096).toBeGreaterThan(WAL_TRIM_BYTES)
  })
})
