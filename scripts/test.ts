/**
 * `npm test`: type check, lint, then every test on the embedded SQLite engine; then, when
 * MLC_TEST_DATABASE_URL names a PostgreSQL server, the in-process suite (every test file that
 * builds its app or store through test/helpers.ts) again on PostgreSQL, a fresh database per app.
 * Stops at the first failing stage and exits non-zero. Browser tests need Chromium
 * (`/usr/bin/chromium`); `.ci/run` installs it and starts PostgreSQL on loopback.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const bin = (name: string) => `node_modules/.bin/${name}`
const extra = process.argv.slice(2)

/** Test files that run on whichever engine TEST_ENGINE names (they build apps/stores via the helpers, the webhook harness included). */
function engineNeutralTests(dir = 'test'): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...engineNeutralTests(path))
    else if (entry.name.endsWith('.test.ts') && /\b(createTestApp|createWebhookTestApp|openTestStore)\(/.test(readFileSync(path, 'utf8'))) out.push(`./${path}`)
  }
  return out.sort()
}

const stages: [string, string[], Record<string, string>?][] = [
  ['sdk build', [process.execPath, 'scripts/build-sdk.ts']],
  ['type check', [bin('tsc'), '--noEmit']],
  ['lint', [bin('biome'), 'check', '.']],
  ['tests (SQLite)', [process.execPath, 'test', '--timeout', '30000', ...extra], { MLC_TEST_ENGINE: 'sqlite' }],
]
if (process.env.MLC_TEST_DATABASE_URL && extra.length === 0) {
  stages.push(['tests (PostgreSQL)', [process.execPath, 'test', '--timeout', '30000', ...engineNeutralTests()], { MLC_TEST_ENGINE: 'postgres' }])
} else if (!process.env.MLC_TEST_DATABASE_URL) {
  console.log('\nMLC_TEST_DATABASE_URL is not set: the PostgreSQL contract tests and the PostgreSQL pass are skipped (.ci/run sets it).')
}

for (const [name, [cmd, ...args], env] of stages) {
  console.log(`\n== ${name}: ${[cmd, ...args].join(' ')}`)
  const r = spawnSync(cmd as string, args, { stdio: 'inherit', env: { ...process.env, ...env } })
  if (r.status !== 0) {
    console.error(`\n${name} failed (exit ${r.status ?? r.signal})`)
    process.exit(r.status || 1)
  }
}
console.log('\nall stages passed')
