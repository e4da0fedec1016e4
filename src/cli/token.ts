/** `mlc token create|list|revoke|rotate`: the same service the dashboard uses. */
import { systemClock } from '../clock'
import { loadConfig } from '../config'
import { openStore } from '../db/open-store'
import { createToken, listTokens, revokeToken, rotateToken } from '../modules/tokens/service'
import { type FlagSpec, flagsHelp, parseFlags, positiveInt, required, UsageError } from './args'
import { emit, table } from './output'

export const TOKEN_FLAGS: FlagSpec = {
  site: { type: 'string', value: 'ID', help: 'site the token belongs to (required for create, list)' },
  scopes: { type: 'string', value: 'SCOPES', help: 'read | read,write (required for create)' },
  name: { type: 'string', value: 'NAME', default: '"API token"', help: 'a label for the token' },
  json: { type: 'boolean', help: 'print JSON instead of text' },
  'data-dir': { type: 'string', value: 'DIR' },
}
const FLAGS = TOKEN_FLAGS

export const TOKEN_HELP = `mlc token create --site ID --scopes read|read,write [--name NAME] [--json]
mlc token list --site ID [--json]
mlc token revoke ID
mlc token rotate ID [--json]
  The raw token is printed once (create, rotate); only its SHA-256 is stored.
${flagsHelp(TOKEN_FLAGS)}`

/** Runs a token subcommand. */
export async function tokenCommand(argv: string[], env: Record<string, string | undefined>): Promise<void> {
  const [sub, ...rest] = argv
  const { values, positionals } = parseFlags(rest, FLAGS)
  const config = loadConfig({ 'data-dir': values['data-dir'] as string | undefined }, env)
  const json = Boolean(values.json)
  const store = await openStore(config)
  try {
    if (sub === 'create') {
      const out = await createToken(store, systemClock, {
        siteId: positiveInt(required(values, 'site'), '--site'),
        scopes: required(values, 'scopes'),
        name: values.name as string | undefined,
      })
      emit(json, out, () => `${out.token}\n(token ${out.id} for site ${out.site_id}, scopes ${out.scopes.join(',')}; shown once, store it now)`)
    } else if (sub === 'list') {
      const rows = await listTokens(store, positiveInt(required(values, 'site'), '--site'))
      emit(json, rows, () => table(rows, ['id', 'name', 'prefix', 'scopes', 'request_count', 'created_utc', 'last_used_utc', 'revoked_utc']))
    } else if (sub === 'revoke') {
      const out = await revokeToken(store, systemClock, positiveInt(positionals[0], 'token ID'))
      emit(json, out, () => `revoked token ${out.id}`)
    } else if (sub === 'rotate') {
      const out = await rotateToken(store, positiveInt(positionals[0], 'token ID'))
      emit(json, out, () => `${out.token}\n(token ${out.id} rotated; the old value no longer works)`)
    } else {
      throw new UsageError(`unknown token command "${sub ?? ''}"; use create, list, revoke or rotate`)
    }
  } finally {
    await store.close()
  }
}
