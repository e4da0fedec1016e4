/**
 * The real `mlc serve` process on a fresh data dir: it logs a one-time setup link, the link opens
 * the setup page, the server root sends a browser to the dashboard, and once an admin exists
 * (here through `mlc admin create`) a restart logs no link.
 */
import { afterAll, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { tempDir, until } from '../helpers'
import { runCli, startServerProcess } from './server'

const dir = tempDir()
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The setup link in the server's log, once it is there. */
async function setupUrlIn(output: () => string): Promise<string | null> {
  for (let i = 0; i < 50; i++) {
    const m = /"setup_url":"([^"]+)"/.exec(output())
    if (m?.[1]) return m[1]
    await Bun.sleep(100)
  }
  return null
}

test('first serve logs a one-time setup link; after an admin exists, none', async () => {
  const first = await startServerProcess(dir)
  try {
    const link = await setupUrlIn(first.output)
    expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${first.port}/dashboard/setup\\?token=setup_[\\w-]+$`))
    const page = await fetch(link as string)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Create the first admin')
    const root = await fetch(`${first.url}/`, { redirect: 'manual' })
    expect(root.status).toBe(303)
    expect(root.headers.get('location')).toBe('/dashboard/')
    const bogus = await fetch(`${first.url}/dashboard/setup?token=setup_guessed`)
    expect(bogus.status).toBe(404)
  } finally {
    expect(await first.stop()).toBe(0)
  }
  expect((await runCli(['admin', 'create', '--email', 'me@example.com', '--password', 'a good password'], { MLC_DATA_DIR: dir })).code).toBe(0)
  const second = await startServerProcess(dir)
  try {
    // The setup link would be logged right after "listening" (src/server.ts): wait for that line.
    await until(() => second.output().includes('"msg":"listening"'), 5000, 'the listening line')
    await Bun.sleep(200)
    expect(second.output()).not.toContain('setup_url')
  } finally {
    expect(await second.stop()).toBe(0)
  }
}, 60_000)
