/**
 * The API reference page at /v1/openapi: Scalar's standalone bundle (the npm package
 * `@scalar/api-reference`, embedded in the binary by the bundler) served from our own origin, on
 * a page whose Content-Security-Policy allows our origin only. Nothing is loaded from a CDN, so
 * the page works offline and a compromised CDN cannot run code next to the dashboard.
 */
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
// `type: 'file'` gives a path (inside the binary, a $bunfs path): the 3.5 MB bundle is embedded
// without being parsed at start, and read on the first request for the page or the script.
import scalarPath from '@scalar/api-reference/browser/standalone.js' with { type: 'file' }
import { escapeHtml } from '../assets/demo-page'
import type { StaticFile } from '../assets/files'

/** Where the reference page, its script and the document it renders are served. */
export const REFERENCE_PATH = '/v1/openapi'
export const REFERENCE_SCRIPT_PATH = '/v1/openapi/scalar.js'
export const SPEC_PATH = '/v1/openapi.json'

/**
 * The page's CSP, as found in Chromium: our origin only. Scalar injects its stylesheets as
 * `<style>` elements at run time and Vue sets `style` attributes, so styles need 'unsafe-inline'
 * (scripts do not: the page has no inline script). img-src allows data: for the empty favicon.
 * No font-src: Scalar's fonts are off, the page uses the system's. No 'unsafe-eval': Scalar's zod
 * probes `new Function('')` once, is refused (one script-src report) and validates without it.
 */
export const REFERENCE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** Headers of the reference page besides the content type. */
export const REFERENCE_HEADERS: Record<string, string> = {
  'content-security-policy': REFERENCE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
}

/**
 * Scalar's configuration. Most options turn off something that would leave our origin: its web
 * fonts (fonts.scalar.com), telemetry, the developer tools (which offer to upload the document to
 * registry.scalar.com), the AI agent (api.scalar.com) and the "Open API Client" link (to
 * client.scalar.com, with our document's URL). `servers` sends "Test Request" to the origin the
 * page came from, the only one connect-src allows, whatever MLC_PUBLIC_URL says.
 */
export const SCALAR_CONFIG = {
  withDefaultFonts: false,
  telemetry: false,
  showDeveloperTools: 'never',
  agent: { disabled: true },
  hideClientButton: true,
  servers: [{ url: '/', description: 'This server' }],
  documentDownloadType: 'json',
} as const

/** The page's HTML: a data block naming the document, then the same-origin script that renders it. */
export function referencePage(opts: { title: string; scriptUrl: string }): string {
  const config = escapeHtml(JSON.stringify(SCALAR_CONFIG))
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(opts.title)}</title>
<link rel="icon" href="data:,">
</head>
<body>
<noscript><p>This reference page needs JavaScript. The OpenAPI document it renders is at <a href="${SPEC_PATH}">${SPEC_PATH}</a>.</p></noscript>
<script id="api-reference" type="application/json" data-url="${SPEC_PATH}" data-configuration="${config}"></script>
<script src="${escapeHtml(opts.scriptUrl)}"></script>
</body>
</html>
`
}

/** Scalar's bundle as bytes with its content hash (the gzip copy is made on first demand). */
interface ScalarBundle {
  bytes: Uint8Array<ArrayBuffer>
  hash: string
}

const gzipAsync = promisify(gzip)

/** Runs `load` once; a failure is not kept, so the next caller tries again. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null
  return () => {
    if (!pending) {
      pending = load()
      pending.catch(() => {
        pending = null
      })
    }
    return pending
  }
}

/** Scalar's bundle and its hash, read once per process on first use. */
export const scalarBundle = once(async (): Promise<ScalarBundle> => {
  const bytes = (await Bun.file(scalarPath).bytes()) as Uint8Array<ArrayBuffer>
  return { bytes, hash: new Bun.CryptoHasher('sha256').update(bytes).digest('hex').slice(0, 16) }
})

/** Scalar's bundle as a servable file; its gzip copy (~1 MB of 3.5) is made off the event loop, once. */
export const scalarScript = once(async (): Promise<StaticFile> => {
  const { bytes, hash } = await scalarBundle()
  const packed = await gzipAsync(bytes, { level: 9 })
  return { body: bytes, gzip: new Uint8Array(packed) as Uint8Array<ArrayBuffer>, hash, contentType: 'text/javascript; charset=utf-8' }
})
