/**
 * `npm run build:sdk`: bundles the visitor SDK and the chat widget with Bun's bundler into two
 * minified IIFE files in sdk/dist/, prints their minified and gzip sizes, and fails when the SDK
 * is over its 9 KB budget. The widget is built first: its content hash is baked into the SDK so
 * the SDK can load it from a URL that is cacheable for good.
 * `--if-missing` builds only when a file is missing or older than its sources.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(import.meta.dir, '..')
/** Where the built files go (gitignored). */
export const SDK_DIST = join(ROOT, 'sdk/dist')
/** Hard limit of the minified SDK, in bytes. */
export const SDK_BUDGET_BYTES = 9 * 1024
/** What we aim for: 6 KB minified, 2.5 KB gzip. */
export const SDK_TARGET = { minified: 6 * 1024, gzip: 2.5 * 1024 }

export interface BuiltFile {
  name: string
  bytes: number
  gzipBytes: number
  hash: string
}

/** First 16 hex digits of the SHA-256 of a build: the widget's cache-busting version. */
export function contentHash(text: string): string {
  return new Bun.CryptoHasher('sha256').update(text).digest('hex').slice(0, 16)
}

async function bundle(entry: string, define: Record<string, string> = {}): Promise<string> {
  const result = await Bun.build({
    entrypoints: [join(ROOT, entry)],
    target: 'browser',
    format: 'iife',
    minify: true,
    define,
  })
  if (!result.success) throw new AggregateError(result.logs, `bundling ${entry} failed`)
  return await (result.outputs[0] as Blob).text()
}

/** Writes via a temp file and rename, so a server or test reading the file never sees half of it. */
function writeAtomic(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`)
  writeFileSync(tmp, text)
  renameSync(tmp, join(dir, name))
}

function describe(name: string, text: string): BuiltFile {
  return { name, bytes: Buffer.byteLength(text), gzipBytes: Bun.gzipSync(text, { level: 9 }).byteLength, hash: contentHash(text) }
}

/** Builds both files; throws when the SDK is over budget (nothing is written then). */
export async function buildSdk(opts: { outDir?: string; budgetBytes?: number } = {}): Promise<{ sdk: BuiltFile; widget: BuiltFile }> {
  const outDir = opts.outDir ?? SDK_DIST
  const budget = opts.budgetBytes ?? SDK_BUDGET_BYTES
  const widgetText = await bundle('sdk/widget/index.ts')
  const widget = describe('mlc-widget.js', widgetText)
  const sdkText = await bundle('sdk/src/index.ts', { MLC_WIDGET_VERSION: JSON.stringify(widget.hash) })
  const sdk = describe('mlc-visitor-sdk.js', sdkText)
  if (sdk.bytes > budget) throw new Error(`mlc-visitor-sdk.js would be ${sdk.bytes} bytes minified, over the ${budget}-byte budget`)
  mkdirSync(outDir, { recursive: true })
  writeAtomic(outDir, widget.name, widgetText)
  writeAtomic(outDir, sdk.name, sdkText)
  return { sdk, widget }
}

/** Newest modification time of the sources (ms). */
function newestSource(): number {
  let newest = 0
  for (const dir of ['sdk/src', 'sdk/widget']) {
    for (const f of readdirSync(join(ROOT, dir), { recursive: true }) as string[]) newest = Math.max(newest, statSync(join(ROOT, dir, f)).mtimeMs)
  }
  return newest
}

/** True when a built file is missing or older than the sources. */
export function sdkIsStale(): boolean {
  const newest = newestSource()
  return ['mlc-visitor-sdk.js', 'mlc-widget.js'].some((f) => {
    const p = join(SDK_DIST, f)
    return !existsSync(p) || statSync(p).mtimeMs < newest
  })
}

/** One line per file: minified and gzip sizes against the target. */
export function sizeReport(files: { sdk: BuiltFile; widget: BuiltFile }): string {
  const kb = (n: number) => `${(n / 1024).toFixed(2)} KB`
  const { sdk, widget } = files
  const over = sdk.bytes > SDK_TARGET.minified || sdk.gzipBytes > SDK_TARGET.gzip
  return [
    `sdk/dist/${sdk.name}: ${sdk.bytes} bytes (${kb(sdk.bytes)}) minified, ${sdk.gzipBytes} bytes (${kb(sdk.gzipBytes)}) gzip; budget ${kb(SDK_BUDGET_BYTES)}, target ${kb(SDK_TARGET.minified)} / ${kb(SDK_TARGET.gzip)} gzip${over ? ' (OVER TARGET)' : ''}`,
    `sdk/dist/${widget.name}: ${widget.bytes} bytes (${kb(widget.bytes)}) minified, ${widget.gzipBytes} bytes (${kb(widget.gzipBytes)}) gzip; version ${widget.hash}`,
  ].join('\n')
}

if (import.meta.main) {
  if (process.argv.includes('--if-missing') && !sdkIsStale()) process.exit(0)
  try {
    console.log(sizeReport(await buildSdk()))
  } catch (err) {
    console.error(`SDK build failed: ${(err as Error).message}`)
    for (const e of (err as AggregateError).errors ?? []) console.error(String(e))
    process.exit(1)
  }
}
