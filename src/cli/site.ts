/** `mlc site create|update|list`. */
import { systemClock } from '../clock'
import { loadConfig } from '../config'
import { openStore } from '../db/store'
import { createSite, presentSite, updateSite } from '../modules/sites/service'
import { type FlagSpec, parseFlags, positiveInt, required, UsageError } from './args'
import { emit, table } from './output'
import { applyIdentityFlags } from './site-identity'

const FLAGS: FlagSpec = {
  name: { type: 'string' },
  plan: { type: 'string' },
  'rate-limit': { type: 'string' },
  json: { type: 'boolean' },
  'identity-required': { type: 'string' },
  'rotate-identity-secret': { type: 'boolean' },
  'data-dir': { type: 'string' },
}

export const SITE_HELP = `mlc site create --name NAME [--plan free|starter|growth] [--rate-limit N] [--json]
mlc site update ID [--name NAME] [--plan P] [--rate-limit N|default] [--identity-required on|off] [--rotate-identity-secret] [--json]
mlc site list [--json]
  --data-dir / MLC_DATA_DIR (default ./data) selects the data folder.`

/** Runs a site subcommand. */
export function siteCommand(argv: string[], env: Record<string, string | undefined>): void {
  const [sub, ...rest] = argv
  const { values, positionals } = parseFlags(rest, FLAGS)
  const config = loadConfig({ 'data-dir': values['data-dir'] as string | undefined }, env)
  const json = Boolean(values.json)
  const rateLimit = (raw: unknown) => (raw === undefined ? undefined : raw === 'default' ? null : positiveInt(raw as string, '--rate-limit'))
  const store = openStore(config.dataDir)
  try {
    if (sub === 'create') {
      const site = createSite(store, systemClock, {
        name: required(values, 'name'),
        plan: values.plan as string | undefined,
        rateLimit: rateLimit(values['rate-limit']),
      })
      const out = presentSite(site)
      emit(json, out, () => `created site ${out.id} "${out.name}" (plan ${out.plan}, ${out.rate_limit} req/min)\npublishable key: ${out.publishable_key}`)
    } else if (sub === 'update') {
      const id = positiveInt(positionals[0], 'site ID')
      const out = presentSite(
        updateSite(store, id, { name: values.name as string | undefined, plan: values.plan as string | undefined, rateLimit: rateLimit(values['rate-limit']) }),
      )
      const identity = applyIdentityFlags(store, id, values)
      emit(json, { ...out, ...identity.fields }, () => [`updated site ${out.id}: plan ${out.plan}, ${out.rate_limit} req/min`, ...identity.lines].join('\n'))
    } else if (sub === 'list') {
      const sites = store.sites.list().map(presentSite)
      emit(json, sites, () => table(sites, ['id', 'name', 'plan', 'rate_limit', 'publishable_key', 'created_utc']))
    } else {
      throw new UsageError(`unknown site command "${sub ?? ''}"; use create, update or list`)
    }
  } finally {
    store.close()
  }
}
