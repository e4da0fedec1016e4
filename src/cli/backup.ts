/** `mlc backup FILE` and `mlc restore FILE`. */
import { isoUtc, systemClock } from '../clock'
import { loadConfig } from '../config'
import { backupDatabase, PRIVATE_UMASK, restoreDatabase } from '../db/data-dir'
import { type FlagSpec, flagsHelp, parseFlags, UsageError } from './args'
import { emit } from './output'

export const BACKUP_FLAGS: FlagSpec = {
  force: { type: 'boolean', help: 'replace FILE if it exists' },
  json: { type: 'boolean', help: 'print JSON instead of text' },
  'data-dir': { type: 'string', value: 'DIR' },
}

export const RESTORE_FLAGS: FlagSpec = {
  json: { type: 'boolean', help: 'print JSON instead of text' },
  'data-dir': { type: 'string', value: 'DIR' },
}

export const BACKUP_HELP = `mlc backup FILE [--force] [--json]
  Writes a consistent copy of the database to FILE (SQLite VACUUM INTO). Safe while the server runs.
${flagsHelp(BACKUP_FLAGS)}`

export const RESTORE_HELP = `mlc restore FILE [--json]
  Replaces the data dir's database with FILE after checking it. Refuses while a server runs on the
  data dir; stop it first. The replaced database is kept as mlc.db.pre-restore-<time>.
${flagsHelp(RESTORE_FLAGS)}`

/**
 * Backup and restore copy the embedded SQLite file; a PostgreSQL database (MLC_DATABASE_URL) has
 * its own tools, named in a usage error (one line, exit 2).
 */
function refuseOnPostgres(databaseUrl: string, command: 'backup' | 'restore'): void {
  if (!databaseUrl) return
  const tool = command === 'backup' ? 'pg_dump' : 'pg_restore'
  throw new UsageError(`${command} works on the SQLite data dir; with PostgreSQL (MLC_DATABASE_URL) use ${tool}`)
}

/** The single FILE positional. */
function fileArg(positionals: string[], command: string): string {
  const [file, extra] = positionals
  if (!file) throw new UsageError(`mlc ${command} needs a FILE, e.g. mlc ${command} /var/backups/mlc.db`)
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`)
  return file
}

/** Runs `mlc backup FILE`. */
export function backupCommand(argv: string[], env: Record<string, string | undefined>): void {
  const { values, positionals } = parseFlags(argv, BACKUP_FLAGS)
  const config = loadConfig({ 'data-dir': values['data-dir'] as string | undefined }, env)
  refuseOnPostgres(config.databaseUrl, 'backup')
  // A backup holds every secret of the database: nothing it writes is readable by other users.
  process.umask(PRIVATE_UMASK)
  const out = backupDatabase(config.dataDir, fileArg(positionals, 'backup'), { force: Boolean(values.force) })
  emit(Boolean(values.json), { file: out.file, bytes: out.bytes, schema_version: out.schemaVersion }, () =>
    [`backed up ${config.dataDir} to ${out.file}`, `(${out.bytes} bytes, schema version ${out.schemaVersion})`].join('\n'),
  )
}

/** Runs `mlc restore FILE`. */
export function restoreCommand(argv: string[], env: Record<string, string | undefined>): void {
  const { values, positionals } = parseFlags(argv, RESTORE_FLAGS)
  const config = loadConfig({ 'data-dir': values['data-dir'] as string | undefined }, env)
  refuseOnPostgres(config.databaseUrl, 'restore')
  const file = fileArg(positionals, 'restore')
  const stamp = isoUtc(systemClock.now()).replace(/[:.]/g, '-')
  process.umask(PRIVATE_UMASK)
  const out = restoreDatabase(config.dataDir, file, stamp)
  emit(Boolean(values.json), { data_dir: config.dataDir, schema_version: out.schemaVersion, previous: out.previous }, () =>
    [
      `restored ${file} into ${config.dataDir} (schema version ${out.schemaVersion}; upgraded on the next start if older)`,
      out.previous ? `the database it replaced is kept at ${out.previous}` : 'there was no database before',
    ].join('\n'),
  )
}
