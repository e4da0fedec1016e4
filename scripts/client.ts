/**
 * `npm run client:generate`: writes clients/ts/schema.d.ts, the types of the typed TypeScript
 * client, with openapi-typescript from the OpenAPI document this checkout serves. The build
 * (scripts/build.ts) writes the whole client next to the binary the same way, and a test fails
 * when the committed file and the document drift apart.
 *
 * The generators and their TypeScript 5 live in the clients/ts workspace (clients/ts/package.json):
 * they drive TypeScript's compiler API, which the project's own TypeScript 7 does not have.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const ROOT = join(import.meta.dir, '..')
/** The client's sources: index.ts, package.json and README.md by hand, schema.d.ts generated. */
export const CLIENT_DIR = join(ROOT, 'clients/ts')
export const CLIENT_SCHEMA = join(CLIENT_DIR, 'schema.d.ts')
const HAND_WRITTEN = ['index.ts', 'package.json', 'README.md']

/**
 * The document this checkout serves at /v1/openapi.json, from an app over a throwaway SQLite
 * file: the document depends on the routes only, not on the engine or the data.
 */
export async function servedDocument(): Promise<Record<string, unknown>> {
  // Imported here: `npm run build` loads this file before anything of the app is needed.
  const [{ createApp }, { loadConfig }, { openSqliteStore }, { systemClock }, { silentLogger }] = await Promise.all([
    import('../src/app'),
    import('../src/config'),
    import('../src/db/sqlite/store'),
    import('../src/clock'),
    import('../src/log'),
  ])
  const dir = mkdtempSync(join(tmpdir(), 'mlc-openapi-'))
  const store = openSqliteStore(dir)
  try {
    const config = loadConfig({}, { MLC_DATA_DIR: dir })
    const app = createApp({ config, store, clock: systemClock, logger: silentLogger })
    const res = await app.handle(new Request('http://localhost/v1/openapi.json'))
    if (res.status !== 200) throw new Error(`/v1/openapi.json answered ${res.status}: ${await res.text()}`)
    return (await res.json()) as Record<string, unknown>
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A generator's executable as npm installed it: in the clients/ts workspace, or hoisted to the root. */
export function toolBin(name: string): string {
  for (const dir of [join(CLIENT_DIR, 'node_modules/.bin'), join(ROOT, 'node_modules/.bin')]) {
    if (existsSync(join(dir, name))) return join(dir, name)
  }
  throw new Error(`${name} is not installed: run npm install (it is a dev dependency of clients/ts)`)
}

/** Runs a dev tool with `args`; throws with its output when it fails. */
export function runTool(name: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(toolBin(name), args, { encoding: 'utf8', env: { ...process.env, ...env } })
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`
  if (r.status !== 0) throw new Error(`${name} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error}):\n${output}`)
  return output
}

/** openapi-typescript's types for `document`, as schema.d.ts holds them. */
export function clientSchema(document: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'mlc-client-'))
  try {
    const input = join(dir, 'openapi.json')
    const output = join(dir, 'schema.d.ts')
    writeFileSync(input, JSON.stringify(document))
    runTool('openapi-typescript', [input, '--output', output])
    return readFileSync(output, 'utf8')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Writes the client into `dir`: schema.d.ts generated from `document`, the hand-written files copied. */
export function writeClient(dir: string, document: unknown): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'schema.d.ts'), clientSchema(document))
  for (const file of HAND_WRITTEN) copyFileSync(join(CLIENT_DIR, file), join(dir, file))
}

if (import.meta.main) {
  writeFileSync(CLIENT_SCHEMA, clientSchema(await servedDocument()))
  console.log(`wrote ${CLIENT_SCHEMA}`)
}
