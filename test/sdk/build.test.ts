/** The SDK build: size budget, one IIFE, no eval, no inline styles, the widget version baked in. */
import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { buildSdk, contentHash, SDK_BUDGET_BYTES, SDK_DIST, sizeReport } from '../../scripts/build-sdk'
import { tempDir } from '../helpers'

describe('npm run build:sdk', () => {
  const out = tempDir('mlc-sdk-build-')
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  test('builds the SDK under 9 KB and the widget, and reports both sizes', async () => {
    const built = await buildSdk({ outDir: out })
    const sdk = readFileSync(join(out, 'mlc-visitor-sdk.js'), 'utf8')
    const widget = readFileSync(join(out, 'mlc-widget.js'), 'utf8')
    expect(built.sdk.bytes).toBe(Buffer.byteLength(sdk))
    expect(built.sdk.bytes).toBeLessThanOrEqual(SDK_BUDGET_BYTES)
    expect(built.sdk.gzipBytes).toBe(Bun.gzipSync(sdk, { level: 9 }).byteLength)
    expect(built.widget.hash).toBe(contentHash(widget))
    const report = sizeReport(built)
    expect(report).toContain(`${built.sdk.bytes} bytes`)
    expect(report).toContain(`${built.sdk.gzipBytes} bytes`)
    expect(report).toContain('gzip')
  })

  test('each file is one minified IIFE with no eval, no Function constructor and no inline style', () => {
    for (const name of ['mlc-visitor-sdk.js', 'mlc-widget.js']) {
      const text = readFileSync(join(out, name), 'utf8').trim()
      expect(text.startsWith('(()=>{')).toBe(true)
      expect(text.endsWith('})();')).toBe(true)
      // Minified to one line (the widget's stylesheet is a template literal and keeps its newlines).
      if (name === 'mlc-visitor-sdk.js') expect(text.split('\n').length).toBe(1)
      expect(text).not.toMatch(/\beval\s*\(|new Function\s*\(|setTimeout\(\s*["'`]/)
      expect(text).not.toMatch(/\.style\s*[.=[]|setAttribute\(\s*["'`]style|cssText/)
    }
  })

  test('the SDK loads the widget by its content hash, so the widget URL can be cached for good', () => {
    const sdk = readFileSync(join(out, 'mlc-visitor-sdk.js'), 'utf8')
    const widget = readFileSync(join(out, 'mlc-widget.js'), 'utf8')
    expect(sdk).toContain(contentHash(widget))
  })

  test('over budget fails and writes nothing', async () => {
    const dir = join(out, 'tight')
    await expect(buildSdk({ outDir: dir, budgetBytes: 1000 })).rejects.toThrow(/over the 1000-byte budget/)
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([])
  })

  test('the command line prints the sizes and exits 0; sdk/dist holds a file within budget', async () => {
    const proc = Bun.spawn([process.execPath, 'scripts/build-sdk.ts'], { cwd: join(import.meta.dir, '../..'), stdout: 'pipe', stderr: 'pipe' })
    const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
    expect(code).toBe(0)
    expect(stdout).toMatch(/mlc-visitor-sdk\.js: \d+ bytes .* minified, \d+ bytes .* gzip/)
    expect(statSync(join(SDK_DIST, 'mlc-visitor-sdk.js')).size).toBeLessThanOrEqual(SDK_BUDGET_BYTES)
  })
})
