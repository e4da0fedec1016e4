/**
 * Opens the store the configuration names: the data dir's SQLite file, or PostgreSQL with
 * MLC_DATABASE_URL. Also connects a second store to one already opened (the webhook worker's
 * thread), so no code above src/db/ picks an engine itself.
 */
import type { Config } from '../config'
import { openPostgres, type PostgresOptions } from './postgres/connection'
import { openPostgresStore, postgresStoreOver } from './postgres/store'
import { openDatabase } from './sqlite/open'
import { openSqliteStore, sqliteStoreOver } from './sqlite/store'
import type { Store } from './store'

/** The configured store, migrated and ready. */
export async function openStore(
  config: Pick<Config, 'dataDir' | 'databaseUrl' | 'databasePoolSize' | 'databaseStatementTimeoutMs' | 'databasePrepare' | 'checkpointIntervalMs'>,
): Promise<Store> {
  if (config.databaseUrl) {
    return openPostgresStore({
      url: config.databaseUrl,
      poolSize: config.databasePoolSize,
      statementTimeoutMs: config.databaseStatementTimeoutMs,
      prepare: config.databasePrepare,
    })
  }
  return openSqliteStore(config.dataDir, { checkpointIntervalMs: config.checkpointIntervalMs })
}

/** Where a store another thread opened (and migrated) is: the SQLite file, or the PostgreSQL server. */
export type StoreLocation = { engine: 'sqlite'; path: string } | ({ engine: 'postgres' } & PostgresOptions)

/**
 * Connects to a store that is already migrated, without migrating: a second SQLite connection to
 * the file, or a small PostgreSQL pool of its own (a thread cannot share another's connections).
 */
export function connectStore(location: StoreLocation): Store {
  if (location.engine === 'postgres') {
    const { engine: _engine, ...opts } = location
    return postgresStoreOver(openPostgres(opts))
  }
  return sqliteStoreOver(openDatabase(location.path), location.path)
}
