/**
 * `npm run build`: compiles the single executable `dist/mlc` (linux x64, or the host's platform)
 * with `bun build --compile`. `--all` also cross-compiles `dist/mlc-linux-arm64`.
 * Version, commit and build date are baked in through --define.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import pkg from '../package.json'
import { buildSdk, sizeReport } from './build-sdk'

const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim() || 'unknown'
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
]

const targets: [string, string | null][] = [['dist/mlc', null]]
if (process.argv.includes('--all')) targets.push(['dist/mlc-linux-arm64', 'bun-linux-arm64'])

// The SDK and widget are embedded in the binary, so they are built (and size-checked) first.
console.log(sizeReport(await buildSdk()))
mkdirSync('dist', { recursive: true })
for (const [outfile, target] of targets) {
  const args = ['build', '--compile', '--minify', ...defineArgs, 'src/main.ts', ...EXTRA_ENTRYPOINTS, '--outfile', outfile]
  if (target) args.splice(2, 0, `--target=${target}`)
  console.log(`bun ${args.join(' ')}`)
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
