/**
 * Where the default logger's batches go: to a writer thread (src/log-writer-worker.ts) once there
 * are access-log batches to write, so the request thread does not spend its time in `write`.
 *
 * Order is kept: `post` hands a batch to the thread; `drain` waits (bounded) until the thread has
 * written everything posted, and the logger drains before it writes any other line itself and on
 * exit. Batches that come while the thread is still starting wait here; a drain then writes them
 * itself rather than wait for a thread that may never load. If the thread cannot start, dies, or
 * does not finish within the bound, the batches it has not confirmed are written here, on the
 * calling thread, and so is every later one: a line may then appear twice (the thread finished it
 * after all), but none is lost.
 */
import { workerEntry } from './worker-entry'
import { writeAll } from './write-all'

/** Batches (of up to 256 lines) kept for a thread that is still loading before they are written here. */
const MAX_HELD = 64

export interface LogSink {
  /** Queues a chunk (lines joined by newlines, without the last one) for the thread. */
  post(chunk: string): void
  /** Returns once every chunk posted so far is written. */
  drain(): void
  /** Writes a chunk on this thread, after draining (start-up lines, warnings, errors). */
  writeNow(chunk: string): void
}

export interface SinkOptions {
  /** Where lines go: stdout unless a test says otherwise. */
  fd?: number
  /** How long a drain waits for the thread before writing its batches itself. */
  drainTimeoutMs?: number
  /** Starts the thread (tests start ones that fail). */
  startThread?: () => Worker
  /** Told once when the thread is given up on, with why (the logger writes it as a warning). */
  onFallback?: (why: string) => void
  /** Told when the thread has loaded and takes batches (tests wait for it). */
  onReady?: () => void
}

export function createThreadedSink(opts: SinkOptions = {}): LogSink {
  const fd = opts.fd ?? 1
  const drainTimeoutMs = opts.drainTimeoutMs ?? 2000
  // A line that cannot be written (stdout closed) must not fail the request that logged it.
  const print = (chunk: string) => {
    try {
      writeAll(fd, `${chunk}\n`)
    } catch {}
  }
  let worker: Worker | null = null
  let ready = false
  let broken = false
  // Batches that came before the thread said it was ready.
  const held: string[] = []
  const written = new Int32Array(new SharedArrayBuffer(4))
  // Chunks posted and not yet confirmed by the thread; `confirmed` counts those dropped from here.
  const unconfirmed: string[] = []
  let confirmed = 0

  const forgetConfirmed = () => {
    const done = Atomics.load(written, 0)
    while (confirmed < done && unconfirmed.length > 0) {
      unconfirmed.shift()
      confirmed++
    }
  }

  /** Gives up on the thread: what it did not confirm is written here, and so is everything later. */
  const fallBack = (why: string) => {
    if (broken) return
    broken = true
    forgetConfirmed()
    worker?.terminate()
    worker = null
    for (const chunk of unconfirmed.splice(0)) print(chunk)
    for (const chunk of held.splice(0)) print(chunk)
    opts.onFallback?.(why)
  }

  const send = (w: Worker, chunk: string) => {
    forgetConfirmed()
    unconfirmed.push(chunk)
    w.postMessage({ type: 'chunk', text: `${chunk}\n` })
  }

  const thread = (): Worker | null => {
    if (worker || broken) return worker
    try {
      const w = (opts.startThread ?? startWriterThread)()
      w.postMessage({ type: 'init', written, fd })
      w.addEventListener('message', () => {
        if (worker !== w) return
        ready = true
        for (const chunk of held.splice(0)) send(w, chunk)
        opts.onReady?.()
      })
      w.addEventListener('error', (e) => fallBack(`the log writer thread failed: ${(e as ErrorEvent).message ?? e}`))
      // The thread never keeps the process alive; exit drains it. (Bun's Worker has unref; its types lack it.)
      ;(w as Worker & { unref(): void }).unref()
      worker = w
    } catch (err) {
      fallBack(`the log writer thread did not start: ${err instanceof Error ? err.message : err}`)
    }
    return worker
  }

  const drain = () => {
    if (!worker) return
    // Not loaded yet (or never will be): what waits for it is written here, now, in its place.
    for (const chunk of held.splice(0)) print(chunk)
    const deadline = performance.now() + drainTimeoutMs
    for (;;) {
      forgetConfirmed()
      if (unconfirmed.length === 0) return
      const left = deadline - performance.now()
      if (left <= 0) return fallBack(`the log writer thread did not write within ${drainTimeoutMs} ms`)
      Atomics.wait(written, 0, Atomics.load(written, 0), Math.min(left, 50))
    }
  }

  return {
    post(chunk) {
      const w = thread()
      if (!w) return print(chunk)
      if (ready) send(w, chunk)
      else {
        held.push(chunk)
        // A thread that never loads, nor fails, would hold lines without end: they go out here.
        if (held.length > MAX_HELD) for (const c of held.splice(0)) print(c)
      }
    },
    drain,
    writeNow(chunk) {
      drain()
      print(chunk)
    },
  }
}

function startWriterThread(): Worker {
  return new Worker(workerEntry('log-writer-worker', 'log writer thread'))
}
