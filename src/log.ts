/**
 * Structured logging: one JSON object per line on stdout (or a readable line with
 * MLC_LOG_FORMAT=pretty). Secrets never reach a log line: callers log paths through `redactUrl`.
 */
import { createThreadedSink, type LogSink } from './log-thread'

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
  /** One access-log line (`msg: "request"`, info level): the same JSON as `info`, built for speed. */
  access(fields: AccessFields): void
  /** Writes lines still waiting in the buffer (a clean stop calls it last). */
  flush(): void
}

/** The fields of an access-log line, in the order they are written. */
export interface AccessFields {
  request_id: string | null
  method: string
  path: string
  status: number
  duration_ms: number
  token_id: number | null
  ip: string
}

export interface BufferedWriter {
  /** Queues one line; a full buffer is written at once. */
  write(line: string): void
  /** Writes every queued line now (shutdown, fatal errors, and before warnings and errors). */
  flush(): void
  /** Stops the timer after a last flush. */
  close(): void
}

/**
 * Lines gathered and written together: one `write` per batch instead of one per line, which cost
 * ~20% of a small request's CPU (docs/operations.md, "Where a request's time goes"). A batch goes
 * out every `flushMs` (100 ms), when `maxLines` are waiting, before any warning or error (so lines
 * stay in order and problems show at once), on shutdown and on process exit. A crash that kills
 * the process outright (SIGKILL, OOM) loses at most the last `flushMs` of info lines.
 */
export function createBufferedWriter(writeChunk: (chunk: string) => void, opts: { flushMs?: number; maxLines?: number } = {}): BufferedWriter {
  const maxLines = opts.maxLines ?? 256
  let lines: string[] = []
  let timer: ReturnType<typeof setTimeout> | null = null
  const flush = () => {
    if (timer) {
      clearTimeout(timer)
      timer = null
    }
    if (lines.length === 0) return
    const batch = lines
    lines = []
    writeChunk(batch.join('\n'))
  }
  return {
    write(line) {
      lines.push(line)
      if (lines.length >= maxLines) flush()
      else if (!timer) {
        timer = setTimeout(flush, opts.flushMs ?? 100)
        // A waiting batch never keeps the process alive; exit handlers flush it.
        timer.unref?.()
      }
    },
    flush,
    close: flush,
  }
}

/** Flushes registered on process exit, so a clean stop or a fatal error loses no queued line. */
const exitFlushes = new Set<() => void>()
let exitHookInstalled = false
function flushOnExit(flush: () => void): void {
  exitFlushes.add(flush)
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const f of exitFlushes) f()
  })
}

/** The message of access-log lines (one per request and per WebSocket upgrade). */
export const ACCESS_LOG_MSG = 'request'
/** The message of the line logged for each webhook delivery attempt. */
export const WEBHOOK_ATTEMPT_MSG = 'webhook attempt'
/**
 * Lines that come one per request or per delivery attempt: written in batches. Every other line
 * is rare and goes out at once; one per delivery would make the request thread wait for the
 * writer thread thousands of times a second while the webhook worker is busy.
 */
const BATCHED_MSGS = new Set([ACCESS_LOG_MSG, WEBHOOK_ATTEMPT_MSG])

/**
 * Creates a logger. With `write`, each line goes straight to it (tests). By default lines go to
 * stdout: access-log lines in batches (createBufferedWriter) written by a thread of their own
 * (`sink`, src/log-thread.ts), every other line at once.
 */
export function createLogger(opts: { level?: LogLevel; format?: string; write?: (line: string) => void; flushMs?: number; sink?: LogSink } = {}): Logger {
  const min = RANK[opts.level ?? 'info']
  const pretty = opts.format === 'pretty'
  // Access-log batches go to the writer thread (src/log-thread.ts); every other line is printed
  // here, once the thread has written what came before it.
  const sink = opts.write
    ? null
    : (opts.sink ?? createThreadedSink({ onFallback: (why) => log('warn', 'access log written on the request thread', { reason: why }) }))
  const buffered = sink ? createBufferedWriter((chunk) => sink.post(chunk), { flushMs: opts.flushMs }) : null
  const flush = () => {
    buffered?.flush()
    sink?.drain()
  }
  if (sink) flushOnExit(flush)
  const write = (line: string, batched: boolean) => {
    if (opts.write) return opts.write(line)
    if (batched) return buffered?.write(line)
    // Start-up, shutdown, warnings and errors go out at once, after the batch queued before them.
    buffered?.flush()
    sink?.writeNow(line)
  }
  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < min) return
    const time = new Date().toISOString()
    const line = pretty
      ? `${time} ${level.toUpperCase().padEnd(5)} ${msg} ${(fields ? Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`) : []).join(' ')}`.trimEnd()
      : JSON.stringify({ time, level, msg, ...fields })
    write(line, BATCHED_MSGS.has(msg))
  }
  // The line's time as ISO text, made once per millisecond: at tens of thousands of requests a
  // second most lines share it (toISOString is ~0.3 us of a ~20 us request).
  let isoMs = -1
  let iso = ''
  const access = (f: AccessFields) => {
    if (RANK.info < min) return
    if (pretty) return log('info', ACCESS_LOG_MSG, { ...f })
    const now = Date.now()
    if (now !== isoMs) {
      isoMs = now
      iso = new Date(now).toISOString()
    }
    // Exactly what JSON.stringify({ time, level, msg, ...f }) writes, without building the object:
    // this runs for every request. Strings that may hold anything go through JSON.stringify.
    write(
      `{"time":"${iso}","level":"info","msg":"request","request_id":${JSON.stringify(f.request_id)},"method":${JSON.stringify(f.method)},"path":${JSON.stringify(f.path)},"status":${f.status},"duration_ms":${f.duration_ms},"token_id":${f.token_id},"ip":${JSON.stringify(f.ip)}}`,
      true,
    )
  }
  return {
    enabled: (level) => RANK[level] >= min,
    access,
    log,
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    flush,
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
