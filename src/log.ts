/**
 * Structured logging: one JSON object per line on stdout (or a readable line with
 * MLC_LOG_FORMAT=pretty). Secrets never reach a log line: callers log paths through `redactUrl`.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export interface Logger {
  /** True when a message at `level` would be written (skip building fields otherwise). */
  enabled(level: LogLevel): boolean
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

/** Creates a logger writing to `write` (stdout by default). */
export function createLogger(opts: { level?: LogLevel; format?: string; write?: (line: string) => void } = {}): Logger {
  const min = RANK[opts.level ?? 'info']
  const pretty = opts.format === 'pretty'
  // console.log with one string argument prints it as is (no format substitution) and is flushed
  // before exit. process.stdout.write would build Node's stream machinery on first use: ~20 ms of
  // every start.
  const write = opts.write ?? ((line: string) => console.log(line))
  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < min) return
    const time = new Date().toISOString()
    if (pretty) {
      const extra = fields ? Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`) : []
      write(`${time} ${level.toUpperCase().padEnd(5)} ${msg} ${extra.join(' ')}`.trimEnd())
    } else {
      write(JSON.stringify({ time, level, msg, ...fields }))
    }
  }
  return {
    enabled: (level) => RANK[level] >= min,
    log,
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  }
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = createLogger({ write: () => {}, level: 'error' })

/**
 * Query parameters whose values are credentials: API tokens, publishable keys, identity tokens,
 * and the widget's `anon_id` (whoever holds a visitor's anon_id can read that visitor's chat).
 */
const SECRET_PARAMS = new Set(['token', 'site_key', 'identity_token', 'anon_id'])

/** A query parameter name as the server reads it: `+` is a space, percent escapes decoded. */
function decodedName(raw: string): string {
  const name = raw.replaceAll('+', ' ')
  try {
    return decodeURIComponent(name).toLowerCase()
  } catch {
    return name.toLowerCase()
  }
}

/**
 * Path and query of a URL with credential values replaced by `REDACTED`. Names are compared as
 * the server decodes them (`?%74oken=` is `token` to URLSearchParams, so it must be to us too);
 * each name is written as it came, so the line still shows what the client sent.
 */
export function redactUrl(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf('?')
  if (q < 0) return pathAndQuery
  const pairs = pathAndQuery.slice(q + 1).split('&')
  let changed = false
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i] as string
    const eq = pair.indexOf('=')
    const name = eq < 0 ? pair : pair.slice(0, eq)
    if (eq >= 0 && SECRET_PARAMS.has(decodedName(name))) {
      pairs[i] = `${name}=REDACTED`
      changed = true
    }
  }
  return changed ? `${pathAndQuery.slice(0, q + 1)}${pairs.join('&')}` : pathAndQuery
}
