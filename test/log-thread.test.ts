/**
 * The log writer thread: batches written off the request thread, in order with the lines written
 * on it, and never lost when the thread cannot start, dies, or hangs. A real Worker writing to a
 * real file.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createThreadedSink, type SinkOptions } from '../src/log-thread'
import { tempDir, until } from './helpers'

const dir = tempDir('mlc-log-thread-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
/** A fresh file to write to; `lines()` reads what reached it. */
function target() {
  const path = join(dir, `out-${files++}.log`)
  const fd = openSync(path, 'w')
  return { fd, lines: () => readFileSync(path, 'utf8').split('\n').filter(Boolean), close: () => closeSync(fd) }
}

/** A thread from a script of its own (one that fails in the way a test needs), ready once it has loaded. */
function threadFrom(onChunk: string): () => Worker {
  const path = join(dir, `worker-${files++}.ts`)
  writeFileSync(path, `self.onmessage = (e) => { if (e.data.type === 'init') postMessage('ready'); else { ${onChunk} } }`)
  return () => new Worker(path)
}

/** A sink with a `ready` promise: resolved once its thread has loaded. */
function sinkWith(opts: SinkOptions) {
  let markReady = () => {}
  const ready = new Promise<void>((resolve) => {
    markReady = resolve
  })
  return { sink: createThreadedSink({ ...opts, onReady: () => markReady() }), ready }
}

const realThread = () => new Worker(new URL('../src/log-writer-worker.ts', import.meta.url).href)

describe('the log writer thread', () => {
  test('batches are written by the thread; a line written here waits for them, so the order holds', async () => {
    const out = target()
    const { sink, ready } = sinkWith({ fd: out.fd, startThread: realThread })
    sink.post('a1\na2')
    await ready
    sink.post('b1')
    // Written by the thread on its own: nobody here drains.
    await until(() => out.lines().length === 3, 5000, 'the thread to write b1')
    expect(out.lines()).toEqual(['a1', 'a2', 'b1'])
    for (let i = 0; i < 50; i++) sink.post(`c${i}`)
    sink.writeNow('warning')
    sink.post('d1')
    sink.drain()
    expect(out.lines()).toEqual(['a1', 'a2', 'b1', ...Array.from({ length: 50 }, (_, i) => `c${i}`), 'warning', 'd1'])
    out.close()
  })

  test('batches that come while the thread loads: a drain writes them here instead of waiting', () => {
    const out = target()
    const { sink } = sinkWith({ fd: out.fd, startThread: threadFrom('') })
    sink.post('a')
    const started = performance.now()
    sink.writeNow('b')
    expect(performance.now() - started).toBeLessThan(100)
    expect(out.lines()).toEqual(['a', 'b'])
    out.close()
  })

  test('a thread that never loads nor fails: held batches go out here once there are too many', () => {
    const out = target()
    const { sink } = sinkWith({ fd: out.fd, startThread: () => new Worker(`data:text/javascript,${encodeURIComponent('setInterval(() => {}, 1000)')}`) })
    for (let i = 0; i < 65; i++) sink.post(`b${i}`)
    expect(out.lines()).toEqual(Array.from({ length: 65 }, (_, i) => `b${i}`))
    out.close()
  })

  test('no thread is started until there is a batch to write', () => {
    const out = target()
    let started = 0
    const sink = createThreadedSink({
      fd: out.fd,
      startThread: () => {
        started++
        return realThread()
      },
    })
    sink.writeNow('listening')
    sink.drain()
    expect(started).toBe(0)
    sink.post('request')
    sink.post('request')
    sink.drain()
    expect(started).toBe(1)
    expect(out.lines()).toEqual(['listening', 'request', 'request'])
    out.close()
  })

  test('a thread that cannot start: every line is written here, and the reason is told once', () => {
    const out = target()
    const reasons: string[] = []
    const sink = createThreadedSink({
      fd: out.fd,
      startThread: () => {
        throw new Error('the log writer thread is missing from this binary')
      },
      onFallback: (why) => reasons.push(why),
    })
    sink.post('a')
    sink.post('b')
    sink.writeNow('c')
    expect(out.lines()).toEqual(['a', 'b', 'c'])
    expect(reasons).toEqual(['the log writer thread did not start: the log writer thread is missing from this binary'])
    out.close()
  })

  test('a thread that dies: what it did not confirm is written here, in order, and so is what follows', async () => {
    const out = target()
    const reasons: string[] = []
    const { sink, ready } = sinkWith({ fd: out.fd, startThread: threadFrom(`throw new Error('disk on fire')`), onFallback: (why) => reasons.push(why) })
    sink.post('a')
    await ready
    sink.post('b')
    // The error event reaches this thread on its event loop.
    await until(() => reasons.length > 0, 5000, 'the error event')
    sink.post('c')
    sink.drain()
    expect(out.lines()).toEqual(['a', 'b', 'c'])
    expect(reasons).toHaveLength(1)
    expect(reasons[0]).toContain('disk on fire')
    out.close()
  })

  test('a thread that hangs: a drain gives up after its bound and writes the batches itself', async () => {
    const out = target()
    const reasons: string[] = []
    const { sink, ready } = sinkWith({ fd: out.fd, drainTimeoutMs: 200, startThread: threadFrom(''), onFallback: (why) => reasons.push(why) })
    sink.post('a')
    await ready
    sink.post('b')
    const started = performance.now()
    sink.writeNow('c')
    expect(performance.now() - started).toBeGreaterThanOrEqual(150)
    expect(out.lines()).toEqual(['a', 'b', 'c'])
    expect(reasons).toEqual(['the log writer thread did not write within 200 ms'])
    out.close()
  })

  test('a closed output fails no caller', () => {
    const out = target()
    out.close()
    const sink = createThreadedSink({ fd: out.fd, startThread: threadFrom(''), drainTimeoutMs: 50 })
    expect(() => {
      sink.post('a')
      sink.writeNow('b')
    }).not.toThrow()
  })
})
