/**
 * Runs once before `bun test`: the server embeds sdk/dist/ (the visitor SDK and widget), so build
 * it when missing or stale. A failing build is reported, not fatal here: test/sdk/build.test.ts
 * fails on it, while tests that never load the browser files still run.
 */
import { buildSdk, sdkIsStale } from '../scripts/build-sdk'

if (sdkIsStale()) {
  try {
    await buildSdk()
  } catch (err) {
    console.error(`preload: SDK build failed: ${(err as Error).message}`)
  }
}
