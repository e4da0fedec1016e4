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

/**
 * WAL frames (4 KiB pages) after which a tick restarts the WAL even while writes continue: ~256 MB.
 * Below it the WAL needs no help: once a tick has copied every frame, the next writer starts the
 * file from its beginning by itself, and readers read the database file directly. Under a
 * sustained write load a tick never quite catches up, so the WAL grows; a RESTART then holds the
 * write lock while it copies the newest frames and fsyncs (5-20 ms on a 2-core VM). Doing that on
 * every tick, as this thread did, stalled the writer on every tick: track p99 was 12-22 ms.
 */
export const FORCED_RESTART_FRAMES = 65_536
/** A forced restart first lets PASSIVE copy until at most this many frames are left (a shorter lock). */
const RESTART_LEFTOVER_FRAMES = 512

type CheckpointRow = { busy: number; log: number; checkpointed: number }

/**
 * One tick: a PASSIVE checkpoint (never blocks a writer or a reader), then a WAL restart if the
 * WAL has reached `restartFrames`. Returns the WAL frames still not copied (-1 when the checkpoint
 * could not run).
 */
export function checkpointOnce(db: ReturnType<typeof openDatabase>, restartFrames = FORCED_RESTART_FRAMES): number {
  const passive = () => db.query<CheckpointRow, []>('PRAGMA wal_checkpoint(PASSIVE)').get()
  let row = passive()
  if (!row || row.busy !== 0) return -1
  if (row.log > 0 && row.log >= restartFrames) {
    for (let pass = 0; pass < 4 && row.log - row.checkpointed > RESTART_LEFTOVER_FRAMES; pass++) {
      const next = passive()
      if (!next || next.busy !== 0) break
      row = next
    }
    // RESTART, not TRUNCATE: re-growing the file would cost the writers (journal_size_limit trims
    // it to 64 MB). With busy_timeout 0 it gives up at once if a reader or writer is active.
    row = db.query<CheckpointRow, []>('PRAGMA wal_checkpoint(RESTART)').get() ?? row
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
        // The last tick: a stopping server writes no more, so this one restarts the WAL too.
        if (db) checkpointOnce(db, 1)
      } catch {}
      db?.close()
      db = null
      post({ type: 'stopped' })
    }
  }
}
