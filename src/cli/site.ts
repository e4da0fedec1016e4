/** `mlc site create|update|list`. */
import { systemClock } from '../clock'
import { loadConfig } from '../config'
import { openStore } from '../db/open-store'
import { createSite, presentSite, updateSite } from '../modules/sites/service'
import { type FlagSpec, flagsHelp, parseFlags, positiveInt, required, UsageError } from './args'
import { emit, table } from './output'
import { applyIdentityFlags } from './site-identity'

export const SITE_FLAGS: FlagSpec = {
  name: { type: 'string', value: 'NAME', help: 'site name (required for create)' },
  plan: { type: 'string', value: 'PLAN', default: 'free', help: 'free | starter | growth: sets the rate limit' },
  'rate-limit': { type: 'string', value: 'N', default: "the plan's", help: "requests per minute per token; 'default' returns to the plan's" },
  json: { type: 'boolean', help: 'print JSON instead of text' },
  'identity-required': { type: 'string', value: 'on|off', help: 'publishable-key callers must prove visitor keys with an identity JWT' },
  'rotate-identity-secret': { type: 'boolean', help: 'create a new identity secret (printed once)' },
  'data-dir': { type: 'string', value: 'DIR' },
}
const FLAGS = SITE_FLAGS

export const SITE_HELP = `mlc site create --name NAME [--plan free|starter|growth] [--rate-limit N] [--json]
mlc site update ID [--name NAME] [--plan P] [--rate-limit N|default] [--identity-required on|off] [--rotate-identity-secret] [--json]
mlc site list [--json]
${flagsHelp(SITE_FLAGS)}`

/** Runs a site subcommand. */
export async function siteCommand(argv: string[], env: Record<string, string | undefined>): Promise<void> {
  const [sub, ...rest] = argv
  const { values, positionals } = parseFlags(rest, FLAGS)
  const config = loadConfig({ 'data-dir': values['data-dir'] as string | undefined }, env)
  const json = Boolean(values.json)
  const rateLimit = (raw: unknown) => (raw === undefined ? undefined : raw === 'default' ? null : positiveInt(raw as string, '--rate-limit'))
  const store = await openStore(config)
  try {
    if (sub === 'create') {
      const site = await createSite(store, systemClock, {
        name: required(values, 'name'),
        plan: values.plan as string | undefined,
        rateLimit: rateLimit(values['rate-limit']),
      })
      const out = presentSite(site)
      emit(json, out, () => `created site ${out.id} "${out.name}" (plan ${out.plan}, ${out.rate_limit} req/min)\npublishable key: ${out.publishable_key}`)
    } else if (sub === 'update') {
      const id = positiveInt(positionals[0], 'site ID')
      const out = presentSite(
        await updateSite(store, id, {
          name: values.name as string | undefined,
          plan: values.plan as string | undefined,
          rateLimit: rateLimit(values['rate-limit']),
        }),
      )
      const identity = await applyIdentityFlags(store, id, values)
      emit(json, { ...out, ...identity.fields }, () => [`updated site ${out.id}: plan ${out.plan}, ${out.rate_limit} req/min`, ...identity.lines].join('\n'))
    } else if (sub === 'list') {
      const sites = (await store.sites.list()).map(presentSite)
      emit(json, sites, () => table(sites, ['id', 'name', 'plan', 'rate_limit', 'publishable_key', 'created_utc']))
    } else {
      throw new UsageError(`unknown site command "${sub ?? ''}"; use create, update or list`)
    }
  } finally {
    await store.close()
  }
}
