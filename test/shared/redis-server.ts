/**
 * A redis-server of a test's own (Debian's `redis-server`), on a free loopback port, for tests that
 * stop, freeze or restart Redis: never the shared one of MLC_TEST_REDIS_URL. Stopped by pid.
 */
import { RedisClient, type Subprocess } from 'bun'
import { freePort } from '../helpers'

/** The shared Redis of the test run (.ci/run starts one); tests needing it skip without it. */
export const TEST_REDIS_URL = process.env.MLC_TEST_REDIS_URL ?? ''

/** Whether `redis-server` is installed (tests of an own server skip without it). */
export const HAVE_REDIS_SERVER = Bun.which('redis-server') !== null

/** A key prefix of its own for one test file, so parallel files never share a key. */
export function testKeyPrefix(name: string): string {
  return `mlctest:${name}:${crypto.randomUUID().slice(0, 8)}:`
}

export class OwnRedis {
  readonly port = freePort()
  readonly url = `redis://127.0.0.1:${this.port}`
  private proc: Subprocess | null = null

  /** Starts the server and waits until it answers PING. */
  async start(): Promise<void> {
    this.proc = Bun.spawn(['redis-server', '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
      stdout: 'ignore',
      stderr: 'ignore',
    })
    const deadline = Date.now() + 10_000
    for (;;) {
      const c = new RedisClient(this.url, { enableOfflineQueue: false, autoReconnect: false, connectionTimeout: 500 })
      try {
        await c.connect()
        await c.send('PING', [])
        return
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`)
        await Bun.sleep(50)
      } finally {
        c.close()
      }
    }
  }

  /** Kills the server (SIGKILL: no goodbye to clients) and waits for it to exit. */
  async stop(): Promise<void> {
    const p = this.proc
    this.proc = null
    if (!p) return
    p.kill('SIGKILL')
    await p.exited
  }

  /** Freezes the server (connections stay open, nothing answers). */
  freeze(): void {
    this.proc?.kill('SIGSTOP')
  }

  /** Thaws a frozen server. */
  thaw(): void {
    this.proc?.kill('SIGCONT')
  }
}
