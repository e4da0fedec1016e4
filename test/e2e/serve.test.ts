/** The real server process: CLI changes reach it within a second; SIGTERM flushes and exits. */
import { afterAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { openDatabase } from '../../src/db/sqlite/open'
import { openSqliteStore } from '../../src/db/sqlite/store'
import { tempDir } from '../helpers'
import { runCli, startServerProcess } from './server'

const dir = tempDir()
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('mlc serve', () => {
  test('first start creates site 1; a CLI token works at once and a CLI revoke within a second', async () => {
    const server = await startServerProcess(dir)
    try {
      const list = JSON.parse((await runCli(['site', 'list', '--json'], { MLC_DATA_DIR: dir })).stdout)
      expect(list[0].id).toBe(1)
      const tok = JSON.parse((await runCli(['token', 'create', '--site', '1', '--scopes', 'read', '--json'], { MLC_DATA_DIR: dir })).stdout)
      const ok = await fetch(`${server.url}/v1/api.ashx?resource=whoami`, { headers: { authorization: `Bearer ${tok.token}` } })
      expect(ok.status).toBe(200)
      expect(((await ok.json()) as any).data.site_id).toBe(1)
      await runCli(['token', 'revoke', String(tok.id)], { MLC_DATA_DIR: dir })
      await Bun.sleep(1000)
      const gone = await fetch(`${server.url}/v1/tags`, { headers: { authorization: `Bearer ${tok.token}` } })
      expect(gone.status).toBe(401)
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0)
    }
  })

  test('a background flush never waits for a lock held elsewhere: requests are answered meanwhile, the counts land once it is free', async () => {
    const server = await startServerProcess(dir, { env: { ...process.env, MLC_FLUSH_INTERVAL_MS: '50' } as Record<string, string> })
    const other = openDatabase(`${dir}/mlc.db`)
    try {
      const tok = JSON.parse((await runCli(['token', 'create', '--site', '1', '--scopes', 'read', '--json'], { MLC_DATA_DIR: dir })).stdout)
      other.exec('BEGIN IMMEDIATE') // another process holds the write lock (a CLI command, the webhook thread)
      for (let i = 0; i < 4; i++) await fetch(`${server.url}/v1/tags`, { headers: { authorization: `Bearer ${tok.token}` } })
      await Bun.sleep(300) // several flushes find the lock held
      // A flush waiting in SQLite's busy handler would hold the server's event loop for up to 5 s.
      const answered = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(2000) })
      expect(answered.status).toBe(200)
      const count = () => other.query<{ n: number }, [number]>('SELECT request_count AS n FROM api_tokens WHERE id = ?').get(tok.id)?.n
      expect(count()).toBe(0) // nothing could be written yet
      other.exec('COMMIT')
      let written = 0
      for (let i = 0; i < 100 && written !== 4; i++) {
        await Bun.sleep(50)
        written = count() ?? 0
      }
      expect(written).toBe(4)
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK')
      other.close()
      expect(await server.stop('SIGTERM')).toBe(0)
    }
  })

  test('SIGTERM flushes request counters and buckets to disk', async () => {
    const server = await startServerProcess(dir, { env: { ...process.env, MLC_FLUSH_INTERVAL_MS: '600000' } as Record<string, string> })
    const tok = JSON.parse((await runCli(['token', 'create', '--site', '1', '--scopes', 'read', '--json'], { MLC_DATA_DIR: dir })).stdout)
    for (let i = 0; i < 3; i++) await fetch(`${server.url}/v1/tags`, { headers: { authorization: `Bearer ${tok.token}` } })
    expect(await server.stop('SIGTERM')).toBe(0)
    const store = openSqliteStore(dir)
    expect((await store.tokens.byId(tok.id))?.request_count).toBe(3)
    expect((await store.rateBuckets.loadAll()).find((b) => b.key === `token:${tok.id}`)?.tokens).toBeLessThan(58)
    await store.close()
  })
})
