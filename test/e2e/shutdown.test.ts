/**
 * SIGTERM under load: the server stops accepting, finishes every request it accepted (even one
 * whose body is still arriving), flushes and exits 0 within 10 s; no acknowledged write is lost
 * and no write is committed without its client getting the answer.
 */

import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { databasePath } from '../../src/db/data-dir'
import { tempDir } from '../helpers'
import { runCli, startServerProcess } from './server'

const root = tempDir('mlc-shutdown-')
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Tag names of site 1 in the data dir. */
function tagNames(dataDir: string): string[] {
  const db = new Database(databasePath(dataDir), { readonly: true })
  try {
    return db
      .query<{ name: string }, []>('SELECT name FROM tags WHERE site_id = 1')
      .all()
      .map((r) => r.name)
  } finally {
    db.close()
  }
}

/** A token with a high rate limit for site 1 of a data dir. */
async function writeToken(dataDir: string): Promise<string> {
  await runCli(['site', 'update', '1', '--rate-limit', '1000000'], { MLC_DATA_DIR: dataDir })
  return JSON.parse((await runCli(['token', 'create', '--site', '1', '--scopes', 'read,write', '--json'], { MLC_DATA_DIR: dataDir })).stdout).token
}

/** Opens a raw HTTP/1.1 connection, sends the head and the first part of a POST body. Returns a finisher. */
async function startSlowPost(port: number, path: string, token: string, body: string) {
  let received = ''
  let closed: () => void = () => {}
  const done = new Promise<void>((r) => {
    closed = r
  })
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: {
      data(_s, chunk) {
        received += new TextDecoder().decode(chunk)
      },
      close() {
        closed()
      },
      error() {
        closed()
      },
    },
  })
  const bytes = new TextEncoder().encode(body)
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`,
  )
  socket.write(bytes.slice(0, 10))
  socket.flush()
  return {
    /** Sends the rest of the body and resolves with the raw response once the server closes. */
    async finish(): Promise<string> {
      socket.write(bytes.slice(10))
      socket.flush()
      await Promise.race([done, Bun.sleep(8000)])
      return received
    },
    /** Resolves with whatever arrived when the server closes the connection. */
    async closed(): Promise<string> {
      await Promise.race([done, Bun.sleep(12000)])
      return received
    },
  }
}

describe('graceful shutdown', () => {
  test('SIGTERM under load: every accepted request is answered, every acknowledged write is on disk', async () => {
    const dir = join(root, 'load')
    // Counters reach the disk only through the shutdown flush.
    const server = await startServerProcess(dir, { env: { ...process.env, MLC_FLUSH_INTERVAL_MS: '600000' } as Record<string, string> })
    const token = await writeToken(dir)
    const acked = new Set<string>()
    const refused: string[] = []
    const failures: string[] = []
    let stop = false
    let seq = 0
    // 16 clients writing as fast as they can, each on its own keep-alive connection.
    const clients = Array.from({ length: 16 }, async (_, c) => {
      while (!stop) {
        const name = `c${c}-${seq++}`
        try {
          const res = await fetch(`${server.url}/v1/tags`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ name, color: '#2563eb' }),
          })
          if (res.status === 201) acked.add(name)
          else failures.push(`${name}: HTTP ${res.status} ${await res.text()}`)
        } catch (err) {
          // After the listener closes, new connections are refused: the client may retry elsewhere.
          refused.push(`${name}: ${(err as { code?: string }).code ?? (err as Error).message}`)
          await Bun.sleep(5)
        }
      }
    })
    while (acked.size < 300) await Bun.sleep(5)
    const slow = await startSlowPost(server.port, '/v1/tags', token, JSON.stringify({ name: 'slow-upload', color: '#2563eb' }))
    await Bun.sleep(50)
    const t0 = performance.now()
    server.proc.kill('SIGTERM')
    await Bun.sleep(300)
    const slowResponse = await slow.finish()
    const code = await server.proc.exited
    const elapsed = performance.now() - t0
    await server.drained
    stop = true
    await Promise.all(clients)

    expect(code).toBe(0)
    expect(elapsed).toBeLessThan(10_000)
    expect(failures).toEqual([])
    expect(slowResponse).toMatch(/^HTTP\/1\.1 201/)
    const stored = new Set(tagNames(dir))
    expect(stored.has('slow-upload')).toBe(true)
    // No acknowledged write is missing, and nothing was written whose client did not hear back.
    const lost = [...acked].filter((n) => !stored.has(n))
    const unacknowledged = [...stored].filter((n) => !acked.has(n) && n !== 'slow-upload')
    expect(lost).toEqual([])
    expect(unacknowledged).toEqual([])
    // Errors only of the "could not connect" kind, after the stop.
    for (const r of refused) expect(r).toMatch(/ConnectionRefused|ECONNREFUSED|ConnectionClosed|ECONNRESET|socket/i)
    expect(server.output()).toContain('"msg":"stopped"')
    // Access log lines are written in batches: a clean stop still writes every one of them.
    const requestLines = server
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"request"') && l.includes('"method":"POST"') && l.includes('"status":201'))
    expect(requestLines.length).toBe(acked.size + 1)
    // The request counter was flushed on the way out: every authenticated request is counted.
    const db = new Database(databasePath(dir), { readonly: true })
    const counted = db.query<{ n: number }, []>("SELECT request_count AS n FROM api_tokens WHERE name = 'API token'").get()?.n
    db.close()
    expect(counted).toBe(acked.size + 1)
  }, 30_000)

  test('a request that never completes is cut after MLC_SHUTDOWN_TIMEOUT_MS and the process still exits 0', async () => {
    const dir = join(root, 'stuck')
    const server = await startServerProcess(dir, { env: { ...process.env, MLC_SHUTDOWN_TIMEOUT_MS: '500' } as Record<string, string> })
    const token = await writeToken(dir)
    const stuck = await startSlowPost(server.port, '/v1/tags', token, JSON.stringify({ name: 'never-finished', color: '#2563eb' }))
    await Bun.sleep(50)
    const t0 = performance.now()
    server.proc.kill('SIGTERM')
    const code = await server.proc.exited
    const elapsed = performance.now() - t0
    await stuck.closed()
    expect(code).toBe(0)
    expect(elapsed).toBeGreaterThan(400)
    expect(elapsed).toBeLessThan(3000)
    expect(tagNames(dir)).not.toContain('never-finished')
  }, 30_000)

  test('SIGTERM while webhooks are being sent: after a restart every event is delivered, none lost', async () => {
    const dir = join(root, 'hooks')
    const seen = new Map<string, number>()
    // A slow receiver: each answer takes 400 ms, so attempts are in flight when the signal comes.
    const rx = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: async (req) => {
        await Bun.sleep(400)
        const id = req.headers.get('webhook-id') ?? '?'
        seen.set(id, (seen.get(id) ?? 0) + 1)
        return new Response('ok')
      },
    })
    const env = {
      ...process.env,
      MLC_WEBHOOK_ALLOW_PRIVATE: '1',
      MLC_WEBHOOK_TIMEOUT_MS: '3000',
      MLC_WEBHOOK_BACKOFF: '1,1,1,1,1',
      MLC_WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION: '2',
    } as Record<string, string>
    const token = await (async () => {
      const first = await startServerProcess(dir, { env })
      const t = await writeToken(dir)
      const headers = { authorization: `Bearer ${t}`, 'content-type': 'application/json' }
      const sub = (await (
        await fetch(`${first.url}/v1/webhook_subscriptions`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ url: `http://127.0.0.1:${rx.port}/in`, events: ['*'] }),
        })
      ).json()) as { data: { id: number } }
      // 40 pings queued at once, 2 at a time to the slow receiver: 8 s of work, more than a ping waits (4 s).
      const pings = Array.from({ length: 40 }, () =>
        fetch(`${first.url}/v1/webhook_subscriptions/${sub.data.id}?action=test`, { method: 'POST', headers }).then(
          (r) => r.status,
          () => 0,
        ),
      )
      while (seen.size < 6) await Bun.sleep(20)
      expect(await first.stop('SIGTERM')).toBe(0)
      // Every ping request the server accepted was answered (200); none failed with an error status.
      for (const status of await Promise.all(pings)) expect([200, 0]).toContain(status)
      // The worker let its attempts in flight finish (or handed them back) before the database closed.
      expect(first.output()).toMatch(/"msg":"webhook worker stopped","finished":\d+,"handed_back":\d+/)
      expect(first.output().indexOf('"msg":"webhook worker stopped"')).toBeLessThan(first.output().indexOf('"msg":"stopped"'))
      return t
    })()
    expect(token).toMatch(/^mlc_/)
    const events = () => {
      const db = new Database(databasePath(dir), { readonly: true })
      try {
        return db.query<{ event_id: string; status: string }, []>('SELECT event_id, status FROM webhook_deliveries').all()
      } finally {
        db.close()
      }
    }
    const queued = events()
    expect(queued.length).toBe(40)
    expect(queued.some((d) => d.status !== 'succeeded')).toBe(true)

    const second = await startServerProcess(dir, { env })
    try {
      const deadline = Date.now() + 20_000
      while (events().some((d) => d.status !== 'succeeded') && Date.now() < deadline) await Bun.sleep(100)
    } finally {
      expect(await second.stop('SIGTERM')).toBe(0)
      rx.stop(true)
    }
    const final = events()
    expect(final.filter((d) => d.status !== 'succeeded')).toEqual([])
    for (const d of final) expect(seen.get(d.event_id) ?? 0).toBeGreaterThanOrEqual(1)
  }, 60_000)

  test('a second server on the same data dir is refused while the first runs, and starts after it stops', async () => {
    const dir = join(root, 'twice')
    const first = await startServerProcess(dir)
    const second = await runCli(['serve', '--port', '0', '--host', '127.0.0.1'], { MLC_DATA_DIR: dir })
    expect(second.code).toBe(1)
    expect(second.stderr).toContain(`cannot serve: another mlc process (pid ${first.proc.pid}) is using the data dir`)
    expect(await first.stop()).toBe(0)
    const third = await startServerProcess(dir)
    expect(await third.stop()).toBe(0)
  }, 30_000)
})
