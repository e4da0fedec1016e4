/**
 * Configuration: one table of options, each readable from a flag and an environment variable,
 * parsed once into a frozen object that is passed down. Nothing else reads `process.env`.
 * The same table drives `mlc --help`, so documentation cannot drift from behaviour.
 */
import { resolve } from 'node:path'
import { parsePlainDecimal, parsePlainDecimalInteger } from './plain-decimal'

type Kind = 'string' | 'int' | 'bool' | 'list'

interface OptionSpec {
  /** Long flag without dashes; absent for env-only settings. */
  flag?: string
  env: string
  kind: Kind
  default: string
  help: string
  /** Smallest allowed value for ints and for each list entry (default 0). */
  min?: number
  /** Largest allowed value for ints and for each list entry (default DEFAULT_MAX). */
  max?: number
}

/** The largest int an option takes when it names no max: the longest delay a timer takes (2^31-1 ms). */
const DEFAULT_MAX = 2_147_483_647

/** Every setting the server knows. Order is the order of `--help`. */
export const OPTIONS = {
  port: { flag: 'port', env: 'MLC_PORT', kind: 'int', default: '8080', min: 0, max: 65535, help: 'TCP port to listen on' },
  host: { flag: 'host', env: 'MLC_HOST', kind: 'string', default: '0.0.0.0', help: 'address to bind' },
  dataDir: { flag: 'data-dir', env: 'MLC_DATA_DIR', kind: 'string', default: './data', help: 'folder holding the SQLite database' },
  databaseUrl: {
    flag: 'database-url',
    env: 'MLC_DATABASE_URL',
    kind: 'string',
    default: '',
    help: 'empty: the embedded SQLite file in the data dir; postgres://user:pass@host:port/db: PostgreSQL',
  },
  databasePoolSize: {
    env: 'MLC_DATABASE_POOL_SIZE',
    kind: 'int',
    default: '10',
    min: 1,
    max: 1000,
    help: 'PostgreSQL: connections this instance keeps open at most',
  },
  databaseStatementTimeoutMs: {
    env: 'MLC_DATABASE_STATEMENT_TIMEOUT_MS',
    kind: 'int',
    default: '10000',
    min: 0,
    max: 3_600_000,
    help: 'PostgreSQL: a statement running longer is cancelled (0: no limit)',
  },
  databasePrepare: {
    env: 'MLC_DATABASE_PREPARE',
    kind: 'bool',
    default: '1',
    help: 'PostgreSQL: use named prepared statements (0 behind PgBouncer in transaction mode)',
  },
  redisUrl: {
    flag: 'redis-url',
    env: 'MLC_REDIS_URL',
    kind: 'string',
    default: '',
    help: 'empty: rate limits and live chat in this process (one instance); redis://[:pass@]host:port[/db] or rediss://: shared by every instance',
  },
  redisTimeoutMs: {
    env: 'MLC_REDIS_TIMEOUT_MS',
    kind: 'int',
    default: '50',
    min: 1,
    max: 60_000,
    help: 'Redis: a rate-limit check waits this long at most; past it the limit falls back as documented (docs/operations.md)',
  },
  redisKeyPrefix: {
    env: 'MLC_REDIS_KEY_PREFIX',
    kind: 'string',
    default: 'mlc:',
    help: 'Redis: prefix of every key and channel (clusters sharing one Redis need different prefixes)',
  },
  instanceId: {
    env: 'MLC_INSTANCE_ID',
    kind: 'string',
    default: '',
    help: 'name of this instance in /metrics (label instance) and /readyz; empty: hostname:port when MLC_REDIS_URL is set, else no label',
  },
  publicUrl: {
    flag: 'public-url',
    env: 'MLC_PUBLIC_URL',
    kind: 'string',
    default: '',
    help: 'URL users reach the server at (links, OpenAPI servers); derived from host/port when empty',
  },
  logLevel: { env: 'MLC_LOG_LEVEL', kind: 'string', default: 'info', help: 'debug | info | warn | error' },
  logFormat: { env: 'MLC_LOG_FORMAT', kind: 'string', default: 'json', help: 'json (one object per line) | pretty' },
  trustProxy: { env: 'MLC_TRUST_PROXY', kind: 'bool', default: '0', help: 'take the client IP from X-Forwarded-For (only behind your own proxy)' },
  flushIntervalMs: {
    env: 'MLC_FLUSH_INTERVAL_MS',
    kind: 'int',
    default: '2000',
    min: 50,
    max: 3_600_000,
    help: 'how often request counters and rate-limit buckets are written to disk',
  },
  checkpointIntervalMs: {
    env: 'MLC_CHECKPOINT_INTERVAL_MS',
    kind: 'int',
    default: '250',
    min: 0,
    max: 3_600_000,
    help: 'how often a background thread copies the WAL into the database file (0: the writing thread does it)',
  },
  authFailuresPerMinute: {
    env: 'MLC_AUTH_FAILURES_PER_MINUTE',
    kind: 'int',
    default: '30',
    min: 1,
    max: 1_000_000,
    help: 'failed authentications allowed per client IP per minute',
  },
  idempotencyTtl: {
    env: 'MLC_IDEMPOTENCY_TTL',
    kind: 'int',
    default: '86400',
    min: 60,
    max: 2_592_000,
    help: 'seconds an Idempotency-Key and the response stored with it are kept (24 h); a retry within them answers that response',
  },
  webhookTimeoutMs: {
    env: 'MLC_WEBHOOK_TIMEOUT_MS',
    kind: 'int',
    default: '10000',
    min: 100,
    max: 600_000,
    help: 'webhooks: one delivery attempt (lookup, connect, answer, first 4 KB) must finish within this',
  },
  webhookBackoff: {
    env: 'MLC_WEBHOOK_BACKOFF',
    kind: 'list',
    default: '30,120,600,3600,21600',
    max: 2_592_000,
    help: 'webhooks: seconds before each retry; 1 attempt + one per entry, then dead-lettered',
  },
  webhookRotationGrace: {
    env: 'MLC_WEBHOOK_ROTATION_GRACE',
    kind: 'int',
    default: '86400',
    min: 0,
    max: 2_592_000,
    help: 'webhooks: seconds the old secret keeps signing (webhook-signature) after rotate_secret',
  },
  webhookRetentionDays: {
    env: 'MLC_WEBHOOK_RETENTION_DAYS',
    kind: 'int',
    default: '30',
    min: 0,
    max: 36_500,
    help: 'webhooks: days finished deliveries and their attempts are kept (0: forever); an event stays while a delivery of it does',
  },
  eventRetentionDays: {
    env: 'MLC_EVENT_RETENTION_DAYS',
    kind: 'int',
    default: '30',
    min: 0,
    max: 36_500,
    help: 'event feed (GET /v1/events): days every event is kept at least (0: forever); longer while a delivery of it is kept',
  },
  webhookAllowPrivate: {
    env: 'MLC_WEBHOOK_ALLOW_PRIVATE',
    kind: 'bool',
    default: '0',
    help: 'webhooks: allow URLs on loopback/private/link-local addresses (local development and tests only)',
  },
  webhookConcurrency: {
    env: 'MLC_WEBHOOK_CONCURRENCY',
    kind: 'int',
    default: '64',
    min: 1,
    max: 10_000,
    help: 'webhooks: deliveries in flight at once, all subscriptions together',
  },
  webhookConcurrencyPerSubscription: {
    env: 'MLC_WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION',
    kind: 'int',
    default: '16',
    min: 1,
    max: 10_000,
    help: 'webhooks: deliveries in flight at once to one subscription (one slow endpoint cannot starve others)',
  },
  metrics: { env: 'MLC_METRICS', kind: 'bool', default: '0', help: 'serve GET /metrics (Prometheus text) without auth' },
  metricsToken: {
    env: 'MLC_METRICS_TOKEN',
    kind: 'string',
    default: '',
    help: 'serve GET /metrics to "Authorization: Bearer <this value>" only (turns metrics on)',
  },
  shutdownTimeoutMs: {
    env: 'MLC_SHUTDOWN_TIMEOUT_MS',
    kind: 'int',
    default: '8000',
    min: 0,
    max: 600_000,
    help: 'on SIGTERM, how long requests in flight may finish before their connections are closed',
  },
  dashboardSessionTtl: {
    env: 'MLC_DASHBOARD_SESSION_TTL',
    kind: 'int',
    default: '43200',
    min: 1,
    max: 31_536_000,
    help: 'dashboard sign-in lifetime in seconds (12 h)',
  },
  signInFailuresPerAccount: {
    env: 'MLC_SIGNIN_FAILURES_PER_ACCOUNT',
    kind: 'int',
    default: '5',
    min: 1,
    max: 1_000_000,
    help: 'failed dashboard sign-ins allowed per account per minute',
  },
  signInFailuresPerIp: {
    env: 'MLC_SIGNIN_FAILURES_PER_IP',
    kind: 'int',
    default: '20',
    min: 1,
    max: 1_000_000,
    help: 'failed dashboard sign-ins allowed per client IP per minute',
  },
  demoPublicSite: {
    env: 'MLC_DEMO_PUBLIC_SITE',
    kind: 'int',
    default: '0',
    min: 0,
    help: 'serve /demo for this site id to anyone, not only to signed-in admins (a public demo; 0: none)',
  },
  aiProvider: {
    env: 'MLC_AI_PROVIDER',
    kind: 'string',
    default: 'kb',
    help: 'chat bot: kb (embedded knowledge-base search, no network) | openai (any OpenAI-compatible endpoint)',
  },
  aiBaseUrl: {
    env: 'MLC_AI_BASE_URL',
    kind: 'string',
    default: '',
    help: 'openai provider: base URL of the chat-completions API, e.g. https://host/v1 (required for openai)',
  },
  aiApiKey: { env: 'MLC_AI_API_KEY', kind: 'string', default: '', help: 'openai provider: API key sent as a bearer token' },
  aiModel: { env: 'MLC_AI_MODEL', kind: 'string', default: 'gpt-4o-mini', help: 'openai provider: model name' },
  aiTimeoutMs: {
    env: 'MLC_AI_TIMEOUT_MS',
    kind: 'int',
    default: '15000',
    min: 100,
    max: 600_000,
    help: 'openai provider: a reply slower than this hands the chat to a human (bot_error)',
  },
  chatInactivityTimeout: {
    env: 'MLC_CHAT_INACTIVITY_TIMEOUT',
    kind: 'int',
    default: '1800',
    min: 1,
    max: 2_592_000,
    help: 'seconds without a message after which an open chat session is closed',
  },
  chatSweepIntervalMs: {
    env: 'MLC_CHAT_SWEEP_INTERVAL_MS',
    kind: 'int',
    default: '30000',
    min: 50,
    max: 3_600_000,
    help: 'how often the server looks for inactive chat sessions to close',
  },
  widgetRatePerVisitor: {
    env: 'MLC_WIDGET_RATE_PER_VISITOR',
    kind: 'int',
    default: '30',
    min: 1,
    max: 1_000_000,
    help: 'chat widget requests allowed per visitor per minute',
  },
  widgetRatePerIp: {
    env: 'MLC_WIDGET_RATE_PER_IP',
    kind: 'int',
    default: '300',
    min: 1,
    max: 1_000_000,
    help: 'chat widget requests allowed per client IP per minute (all visitors behind it together)',
  },
  wsMaxPerCredential: {
    env: 'MLC_WS_MAX_PER_CREDENTIAL',
    kind: 'int',
    default: '20',
    min: 1,
    max: 100_000,
    help: 'open WebSockets allowed per API token, per dashboard session and per widget visitor (past it: 429)',
  },
} as const satisfies Record<string, OptionSpec>

type Options = typeof OPTIONS
type ValueOf<K extends Kind> = K extends 'int' ? number : K extends 'bool' ? boolean : K extends 'list' ? number[] : string

/** The parsed, frozen configuration. */
export type Config = { readonly [K in keyof Options]: ValueOf<Options[K]['kind']> }

/** A bad flag or env value; the CLI prints the message and exits with code 2. */
export class ConfigError extends Error {}

function parseValue(name: string, spec: OptionSpec, raw: string): unknown {
  // Values are quoted as JSON so that the message stays one line whatever the value holds.
  const got = `got ${JSON.stringify(raw)}`
  const min = spec.min ?? 0
  const max = spec.max ?? DEFAULT_MAX
  switch (spec.kind) {
    case 'string':
      return raw
    case 'bool':
      if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true
      if (['0', 'false', 'no', 'off', ''].includes(raw.toLowerCase())) return false
      throw new ConfigError(`${name} must be a boolean (1/0), ${got}`)
    case 'int': {
      // Plain decimal digits only, as the API takes integers: Number() would read "0x1F90" as
      // 8080, "1e3" as 1000, " 80" as 80 and "" as 0 (for a port: any free port).
      const n = parsePlainDecimalInteger(raw, min, max)
      if (n === undefined) throw new ConfigError(`${name} must be an integer from ${min} to ${max} (plain decimal digits), ${got}`)
      return n
    }
    case 'list': {
      // Non-empty; each entry plain decimal digits, a fraction allowed ("0.5" seconds).
      const parts = raw.split(',').map((p) => parsePlainDecimal(p, min, max))
      if (parts.some((n) => n === undefined)) {
        throw new ConfigError(
          `${name} must be comma-separated numbers from ${min} to ${max} (plain decimal digits, like ${JSON.stringify(spec.default)}), ${got}`,
        )
      }
      return parts
    }
  }
}

/**
 * Builds the configuration from flag values (already split by the CLI) and an environment.
 * Flags win over the environment, which wins over defaults.
 */
export function loadConfig(flags: Record<string, string | undefined> = {}, env: Record<string, string | undefined> = {}): Config {
  const out: Record<string, unknown> = {}
  for (const [key, spec] of Object.entries(OPTIONS) as [string, OptionSpec][]) {
    const fromFlag = spec.flag ? flags[spec.flag] : undefined
    const fromEnv = env[spec.env]
    const name = fromFlag !== undefined ? `--${spec.flag}` : spec.env
    const raw = fromFlag ?? fromEnv ?? spec.default
    out[key] = parseValue(name, spec, raw)
  }
  out.dataDir = resolve(out.dataDir as string)
  const level = out.logLevel as string
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw new ConfigError(`MLC_LOG_LEVEL must be debug, info, warn or error, got ${JSON.stringify(level)}`)
  }
  if (out.databaseUrl && !/^postgres(?:ql)?:\/\/\S+$/.test(out.databaseUrl as string)) {
    throw new ConfigError(`MLC_DATABASE_URL must be empty (SQLite) or a postgres:// URL, got ${JSON.stringify(redactPassword(out.databaseUrl as string))}`)
  }
  if (out.aiProvider !== 'kb' && out.aiProvider !== 'openai') {
    throw new ConfigError(`MLC_AI_PROVIDER must be kb or openai, got ${JSON.stringify(out.aiProvider)}`)
  }
  if (out.aiProvider === 'openai' && !/^https?:\/\/\S+$/.test(out.aiBaseUrl as string)) {
    throw new ConfigError(`MLC_AI_PROVIDER=openai needs MLC_AI_BASE_URL (an http(s) URL), got ${JSON.stringify(out.aiBaseUrl)}`)
  }
  return Object.freeze(out) as Config
}

/** A database URL with its password replaced, for messages and logs. */
export function redactPassword(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1REDACTED@')
}

/** The flags `serve` (and every command, for --data-dir) accepts, for util.parseArgs. */
export function configFlagNames(): string[] {
  return Object.values(OPTIONS as Record<string, OptionSpec>)
    .map((s) => s.flag)
    .filter((f): f is string => Boolean(f))
}

/** Help lines: flag, env var, default, description (the layout of `helpLine` in cli/args.ts). */
export function configHelp(): string {
  return (Object.values(OPTIONS) as OptionSpec[])
    .map((s) => {
      const flag = s.flag ? `--${s.flag} ${s.kind === 'int' ? 'N' : 'VALUE'}` : ''
      return `  ${flag.padEnd(24)}  ${s.env.padEnd(31)}  default ${JSON.stringify(s.default).padEnd(12)}  ${s.help}`
    })
    .join('\n')
}
