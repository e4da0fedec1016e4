/**
 * Writes text to a file descriptor completely and synchronously: through short writes, and
 * through a full non-blocking pipe (EAGAIN: wait a millisecond and try again). The log writes
 * with it from its thread and, when that thread is unavailable, from the main thread.
 */
import { writeSync } from 'node:fs'

const parked = new Int32Array(new SharedArrayBuffer(4))

export function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text)
  let offset = 0
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err
      Atomics.wait(parked, 0, 0, 1)
    }
  }
}
