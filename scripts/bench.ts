/**
 * `npm run bench`: every bench section in one run, each comparing against a baseline started in
 * the same run. Prints Markdown and writes it to bench/RESULTS.md. Only loopback is loaded.
 * `npm run bench -- --seconds 5 --only api` shortens or selects.
 */
import { writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import { benchApi } from './bench/api'
import { benchSdkSize } from './bench/sdk-size'
import { benchStartup } from './bench/startup'
import { benchTrack } from './bench/track'
import { benchWebhooks } from './bench/webhooks'

const { values } = parseArgs({ options: { seconds: { type: 'string' }, only: { type: 'string' } }, strict: true })
const seconds = Number(values.seconds ?? 8)
/**
 * The start bench runs first: it times file creation and small reads, which the load sections'
 * aftermath (gigabytes of WAL written and deleted; ext4 discards on this disk) slowed by 10-25 ms
 * even after `sync`, measuring the disk's backlog rather than mlc.
 */
const sections: [string, (s: number) => Promise<string>][] = [
  ['sdk', benchSdkSize],
  ['startup', benchStartup],
  ['api', benchApi],
  ['track', benchTrack],
  ['webhooks', benchWebhooks],
]

const parts: string[] = [
  '# Bench results',
  '',
  `Run ${new Date().toISOString()} on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Bun ${Bun.version}.`,
  `Load generator: autocannon under Node on the same machine (it competes for the same cores as the server). Each section starts after \`sync\` and a 2 s pause.`,
  '',
]
/**
 * Lets the machine settle before a section: the load sections leave hundreds of megabytes of
 * dirty pages behind (WAL and database files), and the kernel's writeback of them would land in
 * the next section's measurement. `sync` flushes them; then a short pause.
 */
async function settle(): Promise<void> {
  Bun.spawnSync(['sync'])
  await Bun.sleep(2000)
}

for (const [name, run] of sections) {
  if (values.only && !values.only.split(',').includes(name)) continue
  console.error(`bench: ${name} ...`)
  await settle()
  parts.push(await run(seconds), '')
}
const md = parts.join('\n')
console.log(md)
if (!values.only) writeFileSync('bench/RESULTS.md', md)
