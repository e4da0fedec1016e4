/**
 * The WAL checkpointer thread. Copying the WAL back into the database file is the only step of a
 * WAL write that waits for the disk (with synchronous=NORMAL, commits do not fsync; checkpoints
 * do). Run on the request thread, every few hundred commits one request would wait for two
 * fsyncs. Here, with its own connection, PASSIVE checkpoints run on a timer and never block a
 * writer or a reader.
 */
import { statfsSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { FORCED_RESTART_FRAMES } from './checkpoint-limits'
import { openDatabase } from './open'

declare const self: Worker

/** Messages from the main thread. */
export type ToCheckpointer = { type: 'init'; dbPath: string; intervalMs: number } | { type: 'stop' }
/** Messages to the main thread. */
export type FromCheckpointer = { type: 'ready' } | { type: 'stopped' } | { type: 'failed'; error: string }

// FORCED_RESTART_FRAMES lives in its own module: importing this one in any thread runs its thread entry.
export { FORCED_RESTART_FRAMES }

/** A forced restart first lets PASSIVE copy until at most this many frames are left (a shorter lock). */
const RESTART_LEFTOVER_FRAMES = 512
/** A WAL file larger than this is truncated at the first tick without writes since the last one. */
export const WAL_TRIM_BYTES = 64 * 1024 * 1024
/** Less free space than this on the WAL's file system counts as a full disk. */
export const DISK_FULL_BYTES = 1024 * 1024

/** What the thread remembers between ticks. */
export interface CheckpointState {
  /** `PRAGMA data_version` at the previous tick: it changes when another connection commits (-1: unknown). */
  lastVersion: number
  /** `data_version` at the last tick that found the disk full; null when it has not been full since the last trim. */
  fullAtVersion?: number | null
}

/** Where and when the WAL is restarted and trimmed (the defaults, or small values in tests). */
export interface CheckpointLimits {
  restartFrames: number
  /** The WAL file, to trim it when it is over `trimBytes` (no trimming without it). */
  walPath?: string
  trimBytes: number
  /** Free bytes on the WAL's file system (no full-disk handling without it). */
  freeBytes?: () => number
  /** Less free than this is a full disk (default DISK_FULL_BYTES). */
  fullBytes?: number
}

type CheckpointRow = { busy: number; log: number; checkpointed: number }

/**
 * One tick: a PASSIVE checkpoint (never blocks a writer or a reader); then a WAL restart if the
 * WAL has reached `restartFrames`, or, when nothing was written since the last tick and the file
 * has outgrown `trimBytes`, a TRUNCATE (holding the write lock for the ftruncate is harmless when
 * nobody writes). Returns the WAL frames still not copied (-1 when the checkpoint could not run).
 *
 * After the disk was full, the WAL file is truncated whatever its size, at the first quiet tick
 * once writes have succeeded again: the space it took while the disk filled goes back to the file
 * system. Not while the disk is still full: the space the WAL file already has is then the only
 * room left for writes.
 */
export function checkpointOnce(
  db: ReturnType<typeof openDatabase>,
  state: CheckpointState,
  limits: CheckpointLimits = { restartFrames: FORCED_RESTART_FRAMES, trimBytes: WAL_TRIM_BYTES },
): number {
  const checkpoint = (mode: 'PASSIVE' | 'RESTART' | 'TRUNCATE') => db.query<CheckpointRow, []>(`PRAGMA wal_checkpoint(${mode})`).get()
  const dataVersion = () => db.query<{ data_version: number }, []>('PRAGMA data_version').get()?.data_version ?? -1
  // Before the checkpoint, which may fail on a full disk (copying into a file that must grow).
  const diskFull = limits.freeBytes !== undefined && limits.freeBytes() < (limits.fullBytes ?? DISK_FULL_BYTES)
  if (diskFull) state.fullAtVersion = dataVersion()
  let row = checkpoint('PASSIVE')
  if (row?.busy !== 0) return -1
  const version = dataVersion()
  const quiet = row.log > 0 && row.log === row.checkpointed && version === state.lastVersion
  state.lastVersion = version
  const recovered = !diskFull && state.fullAtVersion != null && version !== state.fullAtVersion
  if (row.log > 0 && row.log >= limits.restartFrames) {
    for (let pass = 0; pass < 4 && row.log - row.checkpointed > RESTART_LEFTOVER_FRAMES; pass++) {
      const next = checkpoint('PASSIVE')
      if (next?.busy !== 0) break
      row = next
    }
    // With busy_timeout 0 this gives up at once if a reader or writer is active.
    row = checkpoint('RESTART') ?? row
  } else if (quiet && limits.walPath && fileSize(limits.walPath) > (recovered ? 0 : limits.trimBytes)) {
    row = checkpoint('TRUNCATE') ?? row
    if (row.busy === 0) state.fullAtVersion = null
  }
  return row.log - row.checkpointed
}

/** Free bytes (for an unprivileged user) on the file system holding `path`; Infinity when unknown. */
export function freeBytesAt(path: string): number {
  try {
    const fs = statfsSync(path)
    return fs.bavail * fs.bsize
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
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
        const state: CheckpointState = { lastVersion: -1, fullAtVersion: null }
        const dir = dirname(msg.dbPath)
        const limits: CheckpointLimits = {
          restartFrames: FORCED_RESTART_FRAMES,
          walPath: `${msg.dbPath}-wal`,
          trimBytes: WAL_TRIM_BYTES,
          freeBytes: () => freeBytesAt(dir),
        }
        timer = setInterval(() => {
          try {
            if (db) checkpointOnce(db, state, limits)
          } catch (err) {
            // Busy or locked: the next tick tries again, and the writer's autocheckpoint is the backstop.
            // No room to copy into the database file: the disk is full, whatever statfs said a moment ago.
            if (String((err as { code?: unknown }).code).startsWith('SQLITE_FULL')) state.fullAtVersion = state.lastVersion
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
        // The last tick: a stopping server writes no more, so this one copies everything and
        // empties the WAL file (kept on disk, with -shm, for a start on a full disk: see open.ts).
        db?.query('PRAGMA wal_checkpoint(TRUNCATE)').get()
      } catch {}
      db?.close()
      db = null
      post({ type: 'stopped' })
    }
  }
}
