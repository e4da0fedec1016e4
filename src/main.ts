#!/usr/bin/env bun
/** CLI entry: argv -> command. `serve` is the default. */
import { ADMIN_HELP, adminCommand } from './cli/admin'
import { isUsageError, UsageError } from './cli/args'
import { BACKUP_HELP, backupCommand, RESTORE_HELP, restoreCommand } from './cli/backup'
import { HEALTHCHECK_HELP, healthcheckCommand } from './cli/healthcheck'
import { SERVE_HELP, serveCommand } from './cli/serve'
import { SITE_HELP, siteCommand } from './cli/site'
import { TOKEN_HELP, tokenCommand } from './cli/token'
import { BackupError, DataDirLockedError } from './db/data-dir'
import { SchemaTooNewError, StorageUnavailableError } from './db/errors'
import { ApiError } from './errors'
import { BUILD_DATE, COMMIT, VERSION } from './version'

const HELP = `mlc ${VERSION}: the MyLiveChat developer platform, self-hosted.

Commands:
  serve        run the server (default)
  site         create, update, list sites
  token        create, list, revoke, rotate API tokens
  admin        create and list dashboard admins
  backup       write a consistent copy of the database to a file (safe while serving)
  restore      replace the database with a backup (refuses while a server runs)
  healthcheck  exit 0 when the local server answers /healthz
  version      print version, commit and build date

${SERVE_HELP}

${SITE_HELP}

${TOKEN_HELP}

${ADMIN_HELP}

${BACKUP_HELP}

${RESTORE_HELP}

${HEALTHCHECK_HELP}`

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
    case 'backup':
      if (wantsHelp) return void console.log(BACKUP_HELP)
      return backupCommand(rest, env)
    case 'restore':
      if (wantsHelp) return void console.log(RESTORE_HELP)
      return restoreCommand(rest, env)
    case 'healthcheck':
      if (wantsHelp) return void console.log(HEALTHCHECK_HELP)
      process.exitCode = await healthcheckCommand(rest, env)
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
    case 'admin':
      if (wantsHelp) return void console.log(ADMIN_HELP)
      return adminCommand(rest, env)
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
  // A database that cannot answer (PostgreSQL down, a disk full) is one line, not a stack.
  if (err instanceof SchemaTooNewError || err instanceof BackupError || err instanceof DataDirLockedError || err instanceof StorageUnavailableError) {
    console.error(`mlc: ${err.message}`)
    process.exit(1)
  }
  console.error(err)
  process.exit(1)
})
