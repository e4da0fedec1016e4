/**
 * The rate-limit checkpoint of a running server stays bounded: requests from 10,000 client IPs
 * (failing auth, hitting the widget) leave rows only while their buckets drain; a minute later
 * the table is empty again, and a restart loads only the buckets that are not full, exactly.
 */
import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { ManualClock } from '../../../src/clock'
import { loadConfig } from '../../../src/config'
import { databasePath } from '../../../src/db/sqlite/open'
import { silentLogger } from '../../../src/log'
import { createToken } from '../../../src/modules/tokens/service'
import { type RunningServer, startServer } from '../../../src/server'
import { tempDir } from '../../helpers'

const root = tempDir('mlc-rate-buckets-')
afterAll(() => rmSync(root, { recursive: true, force: true }))

const dataDir = join(root, 'data')
const clock = new ManualClock()
const config = loadConfig({}, { MLC_DATA_DIR: dataDir, MLC_PORT: '0', MLC_HOST: '127.0.0.1', MLC_FLUSH_INTERVAL_MS: '50' })
const start = () => startServer(config, { clock, logger: silentLogger })

/** Rows of `rate_buckets`, read through a connection of its own (what a restart would find). */
function storedKeys(): string[] {
  const db = new Database(databasePath(dataDir), { readonly: true })
  try {
    return db
      .query<{ key: string }, []>('SELECT key FROM rate_buckets ORDER BY key')
      .all()
      .map((r) => r.key)
  } finally {
    db.close()
  }
}

/** Waits until the server's flush timer has made `check` true (it runs every 50 ms). */
async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await Bun.sleep(25)
  expect(check()).toBe(true)
}

const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`

describe('rate_buckets under a spray of client IPs', () => {
  let server: RunningServer
  let tokenId = 0
  let token = ''

  test('10,000 addresses failing auth and hitting the widget: rows while their buckets drain, none a minute later', async () => {
    server = await start()
    const pk = (await server.store.sites.byId(1))?.publishable_key as string
    for (let i = 0; i < 10_000; i++) {
      const ip = ipOf(i)
      const denied = await server.app.handle(new Request('http://localhost/v1/tags', { headers: { authorization: 'Bearer mlc_not_a_token' } }), ip)
      expect(denied.status).toBe(401)
      const widget = await server.app.handle(new Request(`http://localhost/v1/widget/sessions/1?anon_id=v${i}`, { headers: { 'x-mlc-site-key': pk } }), ip)
      expect(widget.status).not.toBe(429)
    }
    // 3 draining buckets per address: its auth failures, its widget IP bucket, its visitor.
    await eventually(() => storedKeys().length === 30_000)

    clock.advance(61_000) // every one of them is full again
    await eventually(() => storedKeys().length === 0)
    expect(server.app.buckets.size).toBe(0)
  }, 120_000)

  test('a restart loads only the buckets that are not full, and limits them exactly', async () => {
    const created = await createToken(server.store, clock, { siteId: 1, scopes: 'read' })
    tokenId = created.id
    token = created.token
    const call = () => server.app.handle(new Request('http://localhost/v1/tags', { headers: { authorization: `Bearer ${token}` } }), '192.0.2.1')
    for (let i = 0; i < 60; i++) expect((await call()).status).toBe(200)
    expect((await call()).status).toBe(429)
    await server.stop()
    expect(storedKeys()).toEqual([`token:${tokenId}`])

    // Rows an older version left behind, full long ago: never loaded, deleted by the first flush.
    const db = new Database(databasePath(dataDir))
    // Like every mlc connection, wait for a lock instead of failing at once (a checkpoint may be finishing).
    db.exec('PRAGMA busy_timeout = 5000')
    const stale = db.query('INSERT INTO rate_buckets (key, tokens, updated_ms) VALUES (?, 0, ?)')
    for (let i = 0; i < 500; i++) stale.run(`authfail:${ipOf(i)}`, clock.now() - 120_000)
    db.close()

    server = await start()
    expect(server.app.buckets.size).toBe(1)
    const again = () => server.app.handle(new Request('http://localhost/v1/tags', { headers: { authorization: `Bearer ${token}` } }), '192.0.2.1')
    expect((await again()).status).toBe(429) // still empty: the limit held across the restart
    clock.advance(1_000)
    expect((await again()).status).toBe(200) // one request refilled after a second, as before
    await eventually(() => storedKeys().length === 1)
    expect(storedKeys()).toEqual([`token:${tokenId}`])
    await server.stop()
  }, 60_000)
})
