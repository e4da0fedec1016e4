/**
 * The PostgreSQL connection pool (Bun's built-in `Bun.sql`, no driver dependency). Options come
 * from the config: pool size, a per-statement timeout set on every connection, and whether to
 * use named prepared statements (off behind PgBouncer in transaction mode).
 */
import { SQL } from 'bun'

export interface PostgresOptions {
  url: string
  poolSize: number
  /** Milliseconds; 0 means no limit. */
  statementTimeoutMs: number
  prepare: boolean
}

/** Opens a pool. Connections are made on first use; nothing is sent until a query runs. */
export function openPostgres(opts: PostgresOptions): SQL {
  return new SQL(opts.url, {
    max: opts.poolSize,
    prepare: opts.prepare,
    idleTimeout: 30,
    connectionTimeout: 10,
    // Sent in the startup packet, so it holds for every connection of the pool, however new.
    connection: { statement_timeout: String(opts.statementTimeoutMs), application_name: 'mlc' },
  })
}
