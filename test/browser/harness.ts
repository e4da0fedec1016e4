/**
 * What the browser tests share: the real server started in-process on a free loopback port over a
 * temp data dir, a second loopback origin that serves the test pages (so the SDK talks to the API
 * cross-origin, as on a customer's site), and a Chromium launched once per file.
 */
import { rmSync } from 'node:fs'
import type { Browser, BrowserContext, Page, Request as PwRequest } from 'playwright-core'
import { systemClock } from '../../src/clock'
import { loadConfig } from '../../src/config'
import { silentLogger } from '../../src/log'
import { createToken } from '../../src/modules/tokens/service'
import { type RunningServer, startServer } from '../../src/server'
import { tempDir } from '../helpers'

export interface ApiServer {
  server: RunningServer
  url: string
  siteKey: string
  siteId: number
  writeToken: string
  stop(): Promise<void>
}

/** The real server on 127.0.0.1 with site 1 (created on first start) and a read,write token for it. */
export async function startApi(env: Record<string, string> = {}): Promise<ApiServer> {
  const dataDir = tempDir('mlc-browser-')
  const config = loadConfig({}, { MLC_DATA_DIR: dataDir, MLC_PORT: '0', MLC_HOST: '127.0.0.1', MLC_LOG_LEVEL: 'error', ...env })
  const server = await startServer(config, { logger: silentLogger })
  const site = (await server.store.sites.list())[0]
  if (!site) throw new Error('no site 1')
  const writeToken = (await createToken(server.store, systemClock, { siteId: site.id, scopes: 'read,write', name: 'browser tests' })).token
  return {
    server,
    url: server.url,
    siteKey: site.publishable_key,
    siteId: site.id,
    writeToken,
    async stop() {
      await server.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Serves registered pages from another loopback origin than the API. */
export function startPageServer() {
  const pages = new Map<string, { html: string; headers: Record<string, string> }>()
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(req) {
      const page = pages.get(new URL(req.url).pathname)
      if (!page) return new Response('not found', { status: 404 })
      return new Response(page.html, { headers: { 'content-type': 'text/html; charset=utf-8', ...page.headers } })
    },
  })
  const origin = `http://127.0.0.1:${server.port}`
  return {
    origin,
    /** Registers a page; answers its URL. */
    add(path: string, html: string, headers: Record<string, string> = {}): string {
      pages.set(path, { html, headers })
      return origin + path
    },
    stop: () => server.stop(true),
  }
}

/**
 * A page with the install snippet: the pre-load stub, `before` (commands run before the SDK
 * loads), then the SDK script tag. `head` goes first (e.g. a script that breaks localStorage).
 */
export function snippetPage(api: string, opts: { before?: string; head?: string; nonce?: string; body?: string } = {}): string {
  const n = opts.nonce ? ` nonce="${opts.nonce}"` : ''
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>test page</title>
${opts.head ?? ''}
<script${n}>
window.mylivechat = window.mylivechat || function () { (window.mylivechat.q = window.mylivechat.q || []).push(arguments) }
${opts.before ?? ''}
</script>
<script${n} src="${api}/assets/js/mlc-visitor-sdk.js" async></script>
</head><body><h1>shop</h1>${opts.body ?? ''}</body></html>`
}

/** Records the API requests a page makes (method, path, parsed body, time), excluding preflights. */
export function recordApi(page: Page, apiUrl: string) {
  const seen: { method: string; path: string; body: any; at: number }[] = []
  page.on('request', (r: PwRequest) => {
    if (!r.url().startsWith(apiUrl) || r.method() === 'OPTIONS') return
    const u = new URL(r.url())
    let body: unknown = null
    try {
      body = JSON.parse(r.postData() ?? 'null')
    } catch {}
    seen.push({ method: r.method(), path: u.pathname, body, at: Date.now() })
  })
  return {
    all: seen,
    /** Requests to one path. */
    to: (path: string) => seen.filter((s) => s.path === path),
  }
}

/** A fresh context (empty storage) and page; page errors are collected. */
export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext()
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(String(e)))
  return { context, page, errors }
}

export { until } from '../helpers'
