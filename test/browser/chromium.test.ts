/** The browser harness itself: Debian's Chromium starts and renders a loopback page. */
import { expect, test } from 'bun:test'
import { launchChromium } from './chromium'

test('Chromium renders a page served on loopback', async () => {
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => new Response('<title>ok</title><p id="x">hello</p>', { headers: { 'content-type': 'text/html' } }),
  })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    await page.goto(`http://127.0.0.1:${server.port}/`)
    expect(await page.textContent('#x')).toBe('hello')
  } finally {
    await browser.close()
    server.stop(true)
  }
}, 60_000)
