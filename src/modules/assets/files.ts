/**
 * The browser files the server hosts: the visitor SDK and the chat widget, as built by
 * scripts/build-sdk.ts. They are imported as text, so `bun build --compile` embeds them in the
 * binary; from a checkout they are read from sdk/dist/ (npm start, npm test and the test preload
 * build them when missing). Each is served raw or pre-gzipped, with a content-hash ETag.
 */
import { sha256Hex } from '../../random'

/** One servable file with its precomputed representations. */
export interface StaticFile {
  body: string | Uint8Array<ArrayBuffer>
  gzip: Uint8Array<ArrayBuffer>
  /** First 16 hex digits of the SHA-256 of `body`. */
  hash: string
  contentType: string
}

/** The built SDK and widget; null for a file that is not built. */
export interface BrowserFiles {
  sdk: StaticFile | null
  widget: StaticFile | null
}

/** Wraps a text as a servable file. */
export function staticFile(body: string, contentType = 'text/javascript; charset=utf-8'): StaticFile {
  return { body, gzip: Bun.gzipSync(body, { level: 9 }), hash: sha256Hex(body).slice(0, 16), contentType }
}

// Literal specifiers, so the bundler embeds both files in the compiled binary.
async function readSdk(): Promise<string | null> {
  try {
    return (await import('../../../sdk/dist/mlc-visitor-sdk.js', { with: { type: 'text' } })).default
  } catch {
    return null
  }
}

async function readWidget(): Promise<string | null> {
  try {
    return (await import('../../../sdk/dist/mlc-widget.js', { with: { type: 'text' } })).default
  } catch {
    return null
  }
}

let loaded: Promise<BrowserFiles> | null = null

/** The built files, read once per process. */
export function browserFiles(): Promise<BrowserFiles> {
  loaded ??= Promise.all([readSdk(), readWidget()]).then(([sdk, widget]) => ({
    sdk: sdk === null ? null : staticFile(sdk),
    widget: widget === null ? null : staticFile(widget),
  }))
  return loaded
}
