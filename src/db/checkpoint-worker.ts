/**
 * The WAL checkpointer thread. Copying the WAL back into the database file is the only step of a
 * WAL write that waits for the disk (with synchronous=NORMAL, commits do not fsync; checkpoints
 * do). Run on the request thread, every few hundred commits one request would wait for two
 * fsyncs. Here, with its own connection, PASSIVE checkpoints run on a timer and never block a
 * writer or a reader.
 */
import { openDatabase } from './open'

declare const self: Worker

/** Messages from the main thread. */
export type ToCheckpointer = { type: 'init'; dbPath: string; intervalMs: number } | { type: 'stop' }
/** Messages to the main thread. */
export type FromCheckpointer = { type: 'ready' } | { type: 'stopped' } | { type: 'failed'; error: string }

/** Runs one PASSIVE checkpoint; returns the WAL frames still not copied (-1 when it could not run). */
export function checkpointOnce(db: ReturnType<typeof openDatabase>): number {
  const row = db.query<{ busy: number; log: number; checkpointed: number }, []>('PRAGMA wal_checkpoint(PASSIVE)').get()
  if (row?.busy !== 0) return -1
  if (row.log > 0 && row.log === row.checkpointed) {
    // Everything is copied: restart the WAL from its beginning. Readers of a non-empty WAL look every
    // page up in the WAL index first (a cached read costs ~3x more); after a restart they read the
    // file directly. RESTART, not TRUNCATE: re-growing the file would cost the writers.
    // With busy_timeout 0 this gives up at once if a reader or writer is active, never blocking them.
    db.query('PRAGMA wal_checkpoint(RESTART)').get()
  }
  return row.log - row.checkpointed
}

// Thread entry: the first message carries the database path and the interval.
if (!Bun.isMainThread) {
  let timer: ReturnType<typeof setInterval> | null = null
  let db: ReturnType<typeof openDatabase> | null = null
  const post = (msg: FromCheckpointer) => self.postMessage(msg)
  self.onmessage = (e: MessageEvent<ToCheckpointer>) => {
    const msg = e.data
    if (msg.type === 'init') {
      try {
        db = openDatabase(msg.dbPath)
        db.exec('PRAGMA busy_timeout = 0')
        timer = setInterval(() => {
          try {
            if (db) checkpointOnce(db)
          } catch {
            // Busy or locked: the next tick tries again, and the writer's autocheckpoint is the backstop.
          }
        }, msg.intervalMs)
        post({ type: 'ready' })
      } catch (err) {
        post({ type: 'failed', error: String(err) })
      }
      return
    }
    if (msg.type === 'stop') {
      if (timer) clearInterval(timer)
      try {
        if (db) checkpointOnce(db)
      } catch {}
      db?.close()
      db = null
      post({ type: 'stopped' })
    }
  }
}
