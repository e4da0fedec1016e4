/**
 * Starts the WAL checkpointer thread (src/db/sqlite/checkpoint-worker.ts) for a database the main thread
 * writes, and moves the main connection's automatic checkpoint to a far higher threshold so it
 * only acts as a backstop (if the thread stalls, the WAL still cannot grow without bound).
 */
import type { Database } from 'bun:sqlite'
import { workerEntry } from '../../worker-entry'
import { FORCED_RESTART_FRAMES } from './checkpoint-limits'
import type { FromCheckpointer, ToCheckpointer } from './checkpoint-worker'

/**
 * WAL pages (of 4 KiB) after which the writer checkpoints by itself: ~512 MB, a backstop only (a
 * checkpoint in the writer stalls requests 20-45 ms). Twice the thread's forced restart, so under
 * a sustained write load the thread restarts the WAL well before the writer would step in.
 */
export const BACKSTOP_CHECKPOINT_PAGES = 2 * FORCED_RESTART_FRAMES
/** SQLite's default automatic checkpoint, restored when the thread is not running. */
const DEFAULT_CHECKPOINT_PAGES = 1000

export interface Checkpointer {
  /** Resolves once the thread runs (false when it could not start: the writer keeps checkpointing itself). */
  ready: Promise<boolean>
  /** Runs a last checkpoint, stops the thread and gives checkpointing back to the writer. */
  stop(): Promise<void>
}

/** Starts checkpointing `dbPath` every `intervalMs` on its own thread; `db` is the main connection. */
export function startCheckpointer(db: Database, dbPath: string, intervalMs: number, onError: (message: string) => void = () => {}): Checkpointer {
  let worker: Worker
  try {
    worker = new Worker(workerEntry('db/sqlite/checkpoint-worker', 'checkpoint worker'))
  } catch (err) {
    onError(String(err))
    return { ready: Promise.resolve(false), stop: async () => {} }
  }
  let stopped: (() => void) | null = null
  let running = false
  const ready = new Promise<boolean>((resolve) => {
    worker.addEventListener('message', (e: MessageEvent<FromCheckpointer>) => {
      const msg = e.data
      if (msg.type === 'ready') {
        running = true
        db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`)
        resolve(true)
      } else if (msg.type === 'failed') {
        onError(msg.error)
        worker.terminate()
        resolve(false)
      } else if (msg.type === 'stopped') {
        stopped?.()
      }
    })
    worker.addEventListener('error', (e) => {
      onError(String((e as ErrorEvent).message ?? e))
      if (running) db.exec(`PRAGMA wal_autocheckpoint = ${DEFAULT_CHECKPOINT_PAGES}`)
      running = false
      resolve(false)
    })
  })
  worker.postMessage({ type: 'init', dbPath, intervalMs } satisfies ToCheckpointer)
  return {
    ready,
    async stop() {
      if (!(await ready) || !running) return
      running = false
      db.exec(`PRAGMA wal_autocheckpoint = ${DEFAULT_CHECKPOINT_PAGES}`)
      const done = new Promise<void>((resolve) => {
        stopped = resolve
      })
      worker.postMessage({ type: 'stop' } satisfies ToCheckpointer)
      // A thread that does not answer within 2 s is ended: the next writer checkpoints anyway.
      await Promise.race([done, Bun.sleep(2000)])
      worker.terminate()
    },
  }
}
