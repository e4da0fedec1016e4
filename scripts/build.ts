/**
 * `npm run build`: compiles the single executable `dist/mlc` (linux x64, or the host's platform)
 * with `bun build --compile`. `--all` also cross-compiles `dist/mlc-linux-arm64`.
 * Version, commit and build date are baked in through --define.
 * `--commit SHA` names the commit where git is absent (Docker builds); `--outdir DIR` writes
 * elsewhere than dist/ (tests).
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pkg from '../package.json'
import { buildSdk, sizeReport } from './build-sdk'

const { values: opts } = parseArgs({ options: { all: { type: 'boolean' }, commit: { type: 'string' }, outdir: { type: 'string' } }, strict: true })
const outdir = opts.outdir ?? 'dist'
const commit = opts.commit || (spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout ?? '').trim() || 'unknown'
const defines = {
  MLC_BUILD_VERSION: pkg.version,
  MLC_BUILD_COMMIT: commit,
  MLC_BUILD_DATE: new Date().toISOString(),
}
const defineArgs = Object.entries(defines).flatMap(([k, v]) => ['--define', `${k}=${JSON.stringify(v)}`])

/** Extra entry points compiled into the binary (worker threads), added by the modules that need them. */
export const EXTRA_ENTRYPOINTS: string[] = [
  // The webhook delivery worker thread; src/webhooks/dispatcher.ts finds it inside the binary.
  'src/webhooks/worker.ts',
  // The WAL checkpointer thread; src/db/checkpointer.ts finds it inside the binary.
  'src/db/checkpoint-worker.ts',
]

const targets: [string, string | null][] = [[join(outdir, 'mlc'), null]]
// Bun fetches the arm64 runtime (@oven/bun-linux-aarch64) from the npm registry on first use and caches it.
if (opts.all) targets.push([join(outdir, 'mlc-linux-arm64'), 'bun-linux-arm64'])

// The SDK and widget are embedded in the binary, so they are built (and size-checked) first.
console.log(sizeReport(await buildSdk()))
mkdirSync(outdir, { recursive: true })
for (const [outfile, target] of targets) {
  const args = ['build', '--compile', '--minify', ...defineArgs, 'src/main.ts', ...EXTRA_ENTRYPOINTS, '--outfile', outfile]
  // Precompiled JavaScriptCore bytecode roughly halves start time; test/e2e/arm64.test.ts runs the
  // cross-compiled binary under qemu-user to prove its bytecode loads too.
  args.splice(2, 0, '--bytecode')
  if (target) args.splice(2, 0, `--target=${target}`)
  console.log(`bun ${args.join(' ')}`)
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
