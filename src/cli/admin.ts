/** `mlc admin create|list`: dashboard accounts, through the same service the setup page uses. */
import { systemClock } from '../clock'
import { loadConfig } from '../config'
import { createAdmin, presentAdmin } from '../dashboard/accounts'
import { openStore } from '../db/open-store'
import { type FlagSpec, flagsHelp, parseFlags, positiveInt, required, UsageError } from './args'
import { emit, table } from './output'

export const ADMIN_FLAGS: FlagSpec = {
  email: { type: 'string', value: 'EMAIL', help: 'the admin signs in with this (required for create)' },
  password: { type: 'string', value: 'PASSWORD', help: 'at least 8 characters; stored as an argon2id hash (required for create)' },
  site: { type: 'string', value: 'ID[,ID]', default: 'every site', help: 'the only site(s) this admin may see' },
  json: { type: 'boolean', help: 'print JSON instead of text' },
  'data-dir': { type: 'string', value: 'DIR' },
}

export const ADMIN_HELP = `mlc admin create --email EMAIL --password PASSWORD [--site ID[,ID]] [--json]
mlc admin list [--json]
  Dashboard accounts. Without --site the admin sees every site (the install's owner).
${flagsHelp(ADMIN_FLAGS)}`

/** Runs an admin subcommand. */
export async function adminCommand(argv: string[], env: Record<string, string | undefined>): Promise<void> {
  const [sub, ...rest] = argv
  const { values } = parseFlags(rest, ADMIN_FLAGS)
  const config = loadConfig({ 'data-dir': values['data-dir'] as string | undefined }, env)
  const json = Boolean(values.json)
  if (sub !== 'create' && sub !== 'list') throw new UsageError(`unknown admin command "${sub ?? ''}"; use create or list`)
  const email = sub === 'create' ? required(values, 'email') : ''
  const password = sub === 'create' ? required(values, 'password') : ''
  const siteIds = typeof values.site === 'string' ? values.site.split(',').map((s) => positiveInt(s.trim(), '--site')) : undefined
  const store = await openStore(config)
  try {
    if (sub === 'create') {
      const out = await presentAdmin(store, await createAdmin(store, systemClock, { email, password, siteIds }))
      emit(
        json,
        out,
        () => `created admin ${out.id} <${out.email}> (sites: ${out.sites === 'all' ? 'all' : out.sites.join(',')}); sign in at /dashboard/sign-in`,
      )
    } else {
      const rows: Awaited<ReturnType<typeof presentAdmin>>[] = []
      for (const a of await store.admins.list()) rows.push(await presentAdmin(store, a))
      emit(json, rows, () => table(rows, ['id', 'email', 'sites', 'created_utc', 'last_sign_in_utc']))
    }
  } finally {
    await store.close()
  }
}
