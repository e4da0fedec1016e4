/**
 * `npm run build`: compiles the single executable `dist/mlc` (linux x64, or the host's platform)
 * with `bun build --compile`. `--all` also cross-compiles `dist/mlc-linux-arm64`.
 * Version, commit and build date are baked in through --define. The typed TypeScript client,
 * generated from this build's OpenAPI document, goes next to the binary (`dist/clients/ts`).
 * `--commit SHA` names the commit where git is absent (Docker builds); `--outdir DIR` writes
 * elsewhere than dist/ (tests).
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pkg from '../package.json'
import { buildSdk, sizeReport } from './build-sdk'
import { servedDocument, writeClient } from './client'
import { recordStartProfile, removeStartProfile } from './start-profile'

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
  // The WAL checkpointer thread; src/db/sqlite/checkpointer.ts finds it inside the binary.
  'src/db/sqlite/checkpoint-worker.ts',
  // The log writer thread; src/log-thread.ts finds it inside the binary.
  'src/log-writer-worker.ts',
]

const targets: [string, string | null][] = [[join(outdir, 'mlc'), null]]
// Bun fetches the arm64 runtime (@oven/bun-linux-aarch64) from the npm registry on first use and caches it.
if (opts.all) targets.push([join(outdir, 'mlc-linux-arm64'), 'bun-linux-arm64'])

/**
 * JavaScriptCore's tier-up thresholds are multiplied by this while the binary starts: code that
 * runs only during start-up (module evaluation, route registration) stays in the interpreter
 * instead of keeping the JIT busy on a small machine's cores. src/server.ts restores the normal
 * policy once the server listens. Measured on 2 cores: start to the first /healthz 200 went from
 * ~94 ms to ~72 ms, and API throughput after the reset is unchanged.
 */
const START_JIT_POLICY = 64

/** Compiles `outfile` for `target` (the host when null), with a bytecode layout profile if given. */
function compile(outfile: string, target: string | null, profile: string | null): void {
  const args = ['build', '--compile', '--minify', ...defineArgs, 'src/main.ts', ...EXTRA_ENTRYPOINTS, '--outfile', outfile]
  // Precompiled JavaScriptCore bytecode roughly halves start time; test/e2e/arm64.test.ts runs the
  // cross-compiled binary under qemu-user to prove its bytecode loads too.
  args.splice(2, 0, '--bytecode', `--compile-jit-policy=${START_JIT_POLICY}`)
  // The binary is configured by its flags and MLC_* variables only: a .env or bunfig.toml in the
  // folder it happens to run from is not read (a bunfig.toml could even preload code into it).
  args.splice(2, 0, '--no-compile-autoload-dotenv', '--no-compile-autoload-bunfig')
  if (profile) args.splice(2, 0, `--bytecode-order=${profile}`)
  if (target) args.splice(2, 0, `--target=${target}`)
  console.log(`bun ${args.join(' ')}`)
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

// The SDK and widget are embedded in the binary, so they are built (and size-checked) first.
console.log(sizeReport(await buildSdk()))
mkdirSync(outdir, { recursive: true })
// The client of exactly this build's API: its types come from the document the binary will serve.
const clientDir = join(outdir, 'clients/ts')
writeClient(clientDir, await servedDocument())
console.log(`wrote the TypeScript client to ${clientDir}`)
// Bun's profile-guided bytecode layout: a first build is started once the way a service starts
// (scripts/start-profile.ts); the final builds put the bytecode that start used at the front of the
// executable, so a start reads and decodes less of it (~4 ms sooner, ~1 MB less memory). The
// profile matches functions by a hash of their code, so it serves the arm64 build too. Should
// recording fail, the binaries are built without it: slower to start, otherwise the same.
const [host, ...others] = targets as [[string, string | null], ...[string, string | null][]]
compile(host[0], host[1], null)
const profile = await recordStartProfile(host[0])
if (profile) compile(host[0], host[1], profile)
for (const [outfile, target] of others) compile(outfile, target, profile)
removeStartProfile(profile)
