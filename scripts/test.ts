/**
 * `npm test`: type check, lint, then every test. Stops at the first failing stage and exits
 * non-zero. Browser tests need Chromium (`/usr/bin/chromium`); `.ci/run` installs it.
 */
import { spawnSync } from 'node:child_process'

const bin = (name: string) => `node_modules/.bin/${name}`
const stages: [string, string[]][] = [
  ['sdk build', [process.execPath, 'scripts/build-sdk.ts']],
  ['type check', [bin('tsc'), '--noEmit']],
  ['lint', [bin('biome'), 'check', '.']],
  ['tests', [process.execPath, 'test', '--timeout', '30000', ...process.argv.slice(2)]],
]

for (const [name, [cmd, ...args]] of stages) {
  console.log(`\n== ${name}: ${[cmd, ...args].join(' ')}`)
  const r = spawnSync(cmd as string, args, { stdio: 'inherit' })
  if (r.status !== 0) {
    console.error(`\n${name} failed (exit ${r.status ?? r.signal})`)
    process.exit(r.status || 1)
  }
}
console.log('\nall stages passed')
