#!/usr/bin/env bun
/** CLI entry: argv -> command. `serve` is the default. */
import { isUsageError, UsageError } from './cli/args'
import { SERVE_HELP, serveCommand } from './cli/serve'
import { SITE_HELP, siteCommand } from './cli/site'
import { TOKEN_HELP, tokenCommand } from './cli/token'
import { SchemaTooNewError } from './db/migrate'
import { ApiError } from './errors'
import { BUILD_DATE, COMMIT, VERSION } from './version'

const HELP = `mlc ${VERSION}: the MyLiveChat developer platform, self-hosted.

Commands:
  serve      run the server (default)
  site       create, update, list sites
  token      create, list, revoke, rotate API tokens
  version    print version, commit and build date

${SERVE_HELP}

${SITE_HELP}

${TOKEN_HELP}`

async function main(argv: string[]): Promise<void> {
  const env = process.env
  const [command, ...rest] = argv
  const wantsHelp = rest.includes('--help') || rest.includes('-h')
  switch (command) {
    case undefined:
      return serveCommand([], env)
    case '--help':
    case '-h':
    case 'help':
      console.log(HELP)
      return
    case 'version':
    case '--version':
      console.log(`mlc ${VERSION} (commit ${COMMIT}, built ${BUILD_DATE})`)
      return
    case 'serve':
      if (wantsHelp) return void console.log(SERVE_HELP)
      return serveCommand(rest, env)
    case 'site':
      if (wantsHelp) return void console.log(SITE_HELP)
      return siteCommand(rest, env)
    case 'token':
      if (wantsHelp) return void console.log(TOKEN_HELP)
      return tokenCommand(rest, env)
    default:
      if (command.startsWith('--')) return serveCommand(argv, env)
      throw new UsageError(`unknown command "${command}"; run mlc --help`)
  }
}

main(process.argv.slice(2)).catch((err) => {
  if (isUsageError(err)) {
    console.error(`mlc: ${(err as Error).message}`)
    process.exit(2)
  }
  if (err instanceof ApiError) {
    console.error(`mlc: ${err.message}`)
    process.exit(err.status === 404 ? 1 : 2)
  }
  if (err instanceof SchemaTooNewError) {
    console.error(`mlc: ${err.message}`)
    process.exit(1)
  }
  console.error(err)
  process.exit(1)
})
