/**
 * The log writer thread: writes the access log's batches so the request thread does not (one
 * `write` of ~64 KB every 256 requests measured 4-6% of a small GET's throughput there). It
 * counts what it has written in shared memory; the main thread waits on that count before it
 * writes anything itself, so lines keep their order (src/log-thread.ts).
 */
import { writeAll } from './write-all'

declare const self: Worker

/** Messages from the main thread. */
export type ToLogWriter = { type: 'init'; written: Int32Array; fd: number } | { type: 'chunk'; text: string }

let written: Int32Array | null = null
let fd = 1

self.onmessage = (e: MessageEvent<ToLogWriter>) => {
  const msg = e.data
  if (msg.type === 'init') {
    written = msg.written
    fd = msg.fd
    // Batches wait on the main thread until this arrives.
    self.postMessage('ready')
    return
  }
  writeAll(fd, msg.text)
  // Not counted when the write threw: the thread's error event makes the main thread write it.
  if (written) {
    Atomics.add(written, 0, 1)
    Atomics.notify(written, 0)
  }
}
