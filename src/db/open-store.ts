/** Opens the store the configuration names: the data dir's SQLite file, or PostgreSQL with MLC_DATABASE_URL. */
import type { Config } from '../config'
import { openPostgresStore } from './postgres/store'
import { openSqliteStore } from './sqlite/store'
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
