/** Test helpers: an app over a temp data dir, tokens, and request shorthands. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app'
import { ManualClock } from '../src/clock'
import { type Config, loadConfig } from '../src/config'
import { openStore, type Store } from '../src/db/store'
import { type Logger, silentLogger } from '../src/log'
import { createSite } from '../src/modules/sites/service'
import { createToken } from '../src/modules/tokens/service'
import type { WebhookDispatcher } from '../src/webhooks/dispatcher'

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
  cleanup(): void
}

/**
 * Builds an app over a real SQLite file in a temp dir, with a manual clock. `opts.webhooks` builds
 * the webhook dispatcher (default: none, events stay in the outbox); stop it before `cleanup`.
 */
export function createTestApp(
  env: Record<string, string> = {},
  opts: { webhooks?: (deps: { store: Store; clock: ManualClock; config: Config; dataDir: string }) => WebhookDispatcher; logger?: Logger } = {},
): TestApp {
  const dataDir = tempDir()
  const config = loadConfig({}, { MLC_DATA_DIR: dataDir, MLC_PORT: '0', ...env })
  const store = openStore(dataDir)
  const clock = new ManualClock()
  const app = createApp({ config, store, clock, logger: opts.logger ?? silentLogger, webhooks: opts.webhooks?.({ store, clock, config, dataDir }) })
  const s1 = createSite(store, clock, { name: 'Site one' })
  const s2 = createSite(store, clock, { name: 'Site two', plan: 'growth' })
  const writeToken = createToken(store, clock, { siteId: s1.id, scopes: 'read,write', name: 'writer' }).token
  const readToken = createToken(store, clock, { siteId: s1.id, scopes: 'read', name: 'reader' }).token
  const otherSiteToken = createToken(store, clock, { siteId: s2.id, scopes: 'read,write', name: 'other' }).token
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
    cleanup() {
      store.close()
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
