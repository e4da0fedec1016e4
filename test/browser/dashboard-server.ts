/**
 * Browser-test harness for the dashboard: the real server (startServer on port 0, temp data dir,
 * log lines captured so the setup link can be read), Chromium, and small page helpers.
 */
import { rmSync } from 'node:fs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { Clock } from '../../src/clock'
import { loadConfig } from '../../src/config'
import { createLogger } from '../../src/log'
import { type RunningServer, startServer } from '../../src/server'
import { tempDir } from '../helpers'
import { launchChromium } from './chromium'

export interface DashboardServer {
  server: RunningServer
  url: string
  logs: string[]
  dataDir: string
  /** The one-time setup link the server logged on first start. */
  setupUrl(): string
  stop(): Promise<void>
}

/** Starts the real server on 127.0.0.1:0 over a fresh data dir. */
export async function startDashboardServer(env: Record<string, string> = {}, clock?: Clock): Promise<DashboardServer> {
  const dataDir = tempDir('mlc-dash-')
  const logs: string[] = []
  const config = loadConfig(
    {},
    { MLC_DATA_DIR: dataDir, MLC_PORT: '0', MLC_HOST: '127.0.0.1', MLC_WEBHOOK_ALLOW_PRIVATE: '1', MLC_FLUSH_INTERVAL_MS: '100', ...env },
  )
  const logger = createLogger({ level: 'info', write: (line) => logs.push(line) })
  const server = await startServer(config, { logger, ...(clock ? { clock } : {}) })
  const url = `http://127.0.0.1:${server.port}`
  // The setup link is logged just after the server starts listening.
  for (let waited = 0; waited < 2000 && !logs.some((l) => l.includes('setup_url')); waited += 5) await Bun.sleep(5)
  return {
    server,
    url,
    logs,
    dataDir,
    setupUrl() {
      for (const line of logs) {
        const setup = (JSON.parse(line) as { setup_url?: string }).setup_url
        if (setup) return setup
      }
      throw new Error(`no setup link in the log:\n${logs.join('\n')}`)
    },
    async stop() {
      await server.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** One Chromium for a test file. */
export async function browser(): Promise<Browser> {
  return launchChromium()
}

/** A fresh browser context (its own cookies) and page. */
export async function freshPage(b: Browser, opts: { width?: number; height?: number } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await b.newContext({ viewport: { width: opts.width ?? 1200, height: opts.height ?? 900 } })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  return { context, page }
}

/** Signs in through the form. */
export async function signIn(page: Page, baseUrl: string, email: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/dashboard/sign-in`)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForLoadState('domcontentloaded')
}

/** True when the page is wider than its viewport (something forces sideways scrolling). */
export async function overflowsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1)
}

/** The text of the page's alert (error) box, or null. */
export async function alertText(page: Page): Promise<string | null> {
  const alert = page.getByRole('alert')
  return (await alert.count()) ? ((await alert.first().textContent()) ?? '').trim() : null
}
