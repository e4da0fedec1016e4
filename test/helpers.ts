/** Test helpers: an app over a temp data dir, tokens, and request shorthands. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app'
import { ManualClock } from '../src/clock'
import { type Config, loadConfig } from '../src/config'
import { postgresStoreOver } from '../src/db/postgres/store'
import { openSqliteStore } from '../src/db/sqlite/store'
import type { Store } from '../src/db/store'
import { type Logger, silentLogger } from '../src/log'
import { createSite } from '../src/modules/sites/service'
import { createToken } from '../src/modules/tokens/service'
import type { WebhookDispatcher } from '../src/webhooks/dispatcher'
import { freshPostgresDatabase } from './db/postgres/harness'

/** A fresh temp folder, removed by `cleanup`. */
export function tempDir(prefix = 'mlc-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export interface TestApp {
  app: ReturnType<typeof createApp>
  store: Store
  clock: ManualClock
  config: Config
  dataDir: string
  /** Site 1 with a read,write token and a read token; site 2 with a read,write token. */
  site1: number
  site2: number
  writeToken: string
  readToken: string
  otherSiteToken: string
  /** Sends a request (path relative to the server root) with an optional token and JSON body. */
  request(
    method: string,
    path: string,
    opts?: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string>; ip?: string },
  ): Promise<Response>
  /** Same as request, returning status, headers and parsed JSON. */
  call(method: string, path: string, opts?: Parameters<TestApp['request']>[2]): Promise<{ status: number; headers: Headers; body: any }>
  cleanup(): Promise<void>
}

/**
 * The engine the in-process suite runs on: SQLite by default; PostgreSQL when MLC_TEST_ENGINE is
 * `postgres` (npm test runs the suite a second time that way when MLC_TEST_DATABASE_URL is set).
 */
export const TEST_ENGINE: 'sqlite' | 'postgres' = process.env.MLC_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite'

/** A fresh store for a test: a temp data dir's SQLite file, or a new database on the test PostgreSQL server. */
export async function openTestStore(dataDir: string): Promise<{ store: Store; env: Record<string, string>; drop(): Promise<void> }> {
  if (TEST_ENGINE === 'postgres') {
    const db = await freshPostgresDatabase()
    const store = postgresStoreOver(db.sql)
    return {
      store,
      env: { MLC_DATABASE_URL: db.url },
      async drop() {
        await db.drop()
      },
    }
  }
  const store = openSqliteStore(dataDir)
  return { store, env: {}, drop: () => store.close() }
}

/**
 * Builds an app over a real store (a SQLite file in a temp dir, or a fresh PostgreSQL database, see
 * TEST_ENGINE), with a manual clock. `opts.webhooks` builds the webhook dispatcher (default: none,
 * events stay in the outbox); stop it before `cleanup`.
 */
export async function createTestApp(
  env: Record<string, string> = {},
  opts: {
    webhooks?: (deps: { store: Store; clock: ManualClock; config: Config; dataDir: string }) => WebhookDispatcher
    logger?: Logger
    /** Opens the store over the temp data dir instead (a test that must hold the SQLite connection itself). */
    store?: (dataDir: string) => Store
  } = {},
): Promise<TestApp> {
  const dataDir = tempDir()
  const own = opts.store?.(dataDir)
  const opened = own ? { store: own, env: {}, drop: () => own.close() } : await openTestStore(dataDir)
  const store = opened.store
  const config = loadConfig({}, { MLC_DATA_DIR: dataDir, MLC_PORT: '0', ...opened.env, ...env })
  const clock = new ManualClock()
  const app = createApp({ config, store, clock, logger: opts.logger ?? silentLogger, webhooks: opts.webhooks?.({ store, clock, config, dataDir }) })
  const s1 = await createSite(store, clock, { name: 'Site one' })
  const s2 = await createSite(store, clock, { name: 'Site two', plan: 'growth' })
  const writeToken = (await createToken(store, clock, { siteId: s1.id, scopes: 'read,write', name: 'writer' })).token
  const readToken = (await createToken(store, clock, { siteId: s1.id, scopes: 'read', name: 'reader' })).token
  const otherSiteToken = (await createToken(store, clock, { siteId: s2.id, scopes: 'read,write', name: 'other' })).token
  const request: TestApp['request'] = (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers }
    const token = opts.token === undefined ? writeToken : opts.token
    if (token) headers.authorization = `Bearer ${token}`
    let body: string | undefined = opts.rawBody
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body)
      headers['content-type'] ??= 'application/json'
    }
    return app.handle(new Request(`http://localhost${path}`, { method, headers, body }), opts.ip ?? '127.0.0.1')
  }
  return {
    app,
    store,
    clock,
    config,
    dataDir,
    site1: s1.id,
    site2: s2.id,
    writeToken,
    readToken,
    otherSiteToken,
    request,
    async call(method, path, opts) {
      const res = await request(method, path, opts)
      const text = await res.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {}
      return { status: res.status, headers: res.headers, body }
    },
    async cleanup() {
      await opened.drop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Asserts the error envelope shape and that the header request id matches the body's. */
export function expectError(res: { status: number; headers: Headers; body: any }, status: number, code: string, param?: string) {
  const problems: string[] = []
  if (res.status !== status) problems.push(`status ${res.status} != ${status}`)
  if (res.body?.ok !== false) problems.push('ok is not false')
  if (res.body?.error?.code !== code) problems.push(`code ${res.body?.error?.code} != ${code}`)
  if (param !== undefined && res.body?.error?.param !== param) problems.push(`param ${res.body?.error?.param} != ${param}`)
  const rid = res.headers.get('x-mlc-request-id')
  if (!rid || rid !== res.body?.error?.request_id) problems.push(`request id header ${rid} != body ${res.body?.error?.request_id}`)
  if (problems.length) throw new Error(`${problems.join('; ')}\n${JSON.stringify(res.body)}`)
}

export { freePort } from '../scripts/free-port'

/** Polls `fn` (which may answer a promise) until it gives a truthy value; throws after `ms`. */
export async function until<T>(
  fn: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  ms = 5000,
  what = 'condition',
  every = 10,
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await Bun.sleep(every)
  }
}
