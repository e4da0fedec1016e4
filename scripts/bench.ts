/**
 * `npm run bench`: every bench section in one run, each comparing against a baseline started in
 * the same run. The load generator is wrk (scripts/bench/wrk.ts). Prints Markdown and writes it to
 * bench/RESULTS.md. Only loopback is loaded.
 * `npm run bench -- --seconds 4 --only api,track` shortens or selects (and does not write the file).
 */
import { writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import { spawnSync } from 'bun'
import { benchApi } from './bench/api'
import { type Check, type SectionResult, verdict } from './bench/lib'
import { benchSdkSize } from './bench/sdk-size'
import { benchStartup } from './bench/startup'
import { benchTrack } from './bench/track'
import { benchWebhooks } from './bench/webhooks'
import { findWrk, WRK_CONNECTIONS, WRK_MISSING, WRK_THREADS } from './bench/wrk'

const { values } = parseArgs({ options: { seconds: { type: 'string' }, only: { type: 'string' } }, strict: true })
const seconds = Number(values.seconds ?? 8)
if (!Number.isInteger(seconds) || seconds < 1) {
  console.error('bench: --seconds must be a whole number of seconds, at least 1 (wrk counts whole seconds)')
  process.exit(2)
}
/**
 * The start bench runs first: it times file creation and small reads, which the load sections'
 * aftermath (gigabytes of WAL written and deleted; ext4 discards on this disk) slowed by 10-25 ms
 * even after `sync`, measuring the disk's backlog rather than mlc.
 */
const sections: { name: string; load: boolean; run: (s: number) => Promise<SectionResult> }[] = [
  { name: 'sdk', load: false, run: benchSdkSize },
  { name: 'startup', load: false, run: benchStartup },
  { name: 'api', load: true, run: benchApi },
  { name: 'track', load: true, run: benchTrack },
  { name: 'webhooks', load: true, run: benchWebhooks },
]
const only = values.only?.split(',')
const unknown = only?.filter((n) => !sections.some((s) => s.name === n)) ?? []
if (unknown.length) {
  console.error(`bench: unknown section ${unknown.join(', ')}; choose from ${sections.map((s) => s.name).join(', ')}`)
  process.exit(2)
}
const chosen = sections.filter((s) => !only || only.includes(s.name))
if (chosen.some((s) => s.load) && !findWrk()) {
  console.error(WRK_MISSING)
  process.exit(1)
}

/**
 * Lets the machine settle before a section: the load sections leave hundreds of megabytes of
 * dirty pages behind (WAL and database files), and the kernel's writeback of them would land in
 * the next section's measurement. `sync` flushes them; then a short pause.
 */
async function settle(): Promise<void> {
  Bun.spawnSync(['sync'])
  await Bun.sleep(2000)
}

// Other work on the machine shows in every figure; the header says how much there was.
const loadBefore = loadavg()[0] as number
const results: { name: string; result: SectionResult }[] = []
for (const section of chosen) {
  console.error(`bench: ${section.name} ...`)
  await settle()
  results.push({ name: section.name, result: await section.run(seconds) })
}

const wrkVersion = chosen.some((s) => s.load) ? (/wrk (\S+)/.exec(spawnSync([findWrk() as string, '--version']).stdout.toString())?.[1] ?? '?') : null
const ceilings = results.flatMap((r) => (r.result.ceiling ? [r.result.ceiling] : []))
const checks: Check[] = results.flatMap((r) => r.result.checks)
const md = [
  '# Bench results',
  '',
  `Run ${new Date().toISOString()} on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Bun ${Bun.version}; \`npm run bench -- --seconds ${seconds}\`.`,
  ...(wrkVersion
    ? [
        `Load generator: wrk ${wrkVersion} (C), ${WRK_THREADS} thread, ${WRK_CONNECTIONS} connections, on the same machine: it shares the cores with the server. ` +
          `Its ceiling in this run: ${ceilings.join('; ')}. Every ratio is against the bare Bun.serve measured in the same section of this run.`,
      ]
    : []),
  `mlc runs in its default configuration (access log at \`info\`, stdout to a file). Each section starts after \`sync\` and a 2 s pause. Load average ${loadBefore.toFixed(1)} before the run, ${(loadavg()[0] as number).toFixed(1)} after.`,
  '',
  '## Targets',
  '',
  '| what | this run | target | |',
  '| --- | ---: | --- | --- |',
  ...checks.map((c) => `| ${c.what} | ${c.figure} | ${c.target} | ${verdict(c.met)} |`),
  '',
  '## Sections',
  '',
  ...results.flatMap((r) => [r.result.markdown, '']),
].join('\n')
console.log(md)
if (!values.only) writeFileSync('bench/RESULTS.md', md)
