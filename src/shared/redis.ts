/**
 * The process's Redis connections (MLC_REDIS_URL): one command connection shared by everything
 * (rate limits, PUBLISH, leases), and dedicated subscriber connections for pub/sub. Built on
 * Bun's RedisClient with the offline queue off, so a command sent while disconnected fails at
 * once instead of waiting in a queue.
 *
 * What Bun's client does and does not do (measured on Bun 1.4, Redis 7.0):
 * - a dropped connection is re-established by the client itself (`autoReconnect`, a few hundred
 *   ms after the server is back); `connected` is false meanwhile and commands fail immediately
 *   with ERR_REDIS_CONNECTION_CLOSED. After `maxRetries` failed attempts it gives up and runs
 *   `onclose`; from then on only `connect()` reconnects: we call it every second.
 * - a stalled server (SIGSTOP, a frozen host) leaves the connection open and a command waits for
 *   its answer forever: `send` races every command against MLC_REDIS_TIMEOUT_MS. After one
 *   timeout the connection counts as stalled: commands fail at once (no request waits again)
 *   until a PING answers; a connection stalled for STALL_RECONNECT_MS is closed and reopened (a
 *   half-open TCP connection never answers).
 * - after a reconnect, subscriptions are gone on the server but Bun still holds the listener:
 *   subscribing again with the same listener delivers every message twice. `RedisSubscriber`
 *   unsubscribes the listener first, then subscribes again (one listener per channel).
 */
import { RedisClient } from 'bun'
import { type Config, ConfigError, redactPassword } from '../config'
import type { Logger } from '../log'

/** How often a stalled command connection is PINGed, and a connection Bun gave up on is reopened. */
const PROBE_INTERVAL_MS = 200
const RECONNECT_INTERVAL_MS = 1000
/** A connection that answers nothing for this long is closed and opened again. */
const STALL_RECONNECT_MS = 5000
/** How long `openRedis` waits for the first connection before serving without it. */
const FIRST_CONNECT_MS = 2000
/** Bun's own reconnection attempts before it runs `onclose` (then we reconnect every second). */
const BUN_MAX_RETRIES = 20

/** Redis could not answer in time: it is unreachable, stalled, or the command failed on the way. */
export class RedisUnavailableError extends Error {
  constructor(
    /** `down`: no connection; `timeout`: no answer within the deadline; `stalled`: an earlier command timed out and no PING has answered since. */
    readonly reason: 'down' | 'timeout' | 'stalled',
    message: string,
  ) {
    super(message)
    this.name = 'RedisUnavailableError'
  }
}

/** A dedicated pub/sub connection that subscribes again after every reconnect. */
export interface RedisSubscriber {
  /**
   * Subscribes `listener` to `channel` (a full channel name: prefix it with `redis.prefix`). One
   * listener per channel: subscribing a channel again replaces its listener. Resolves once the
   * server confirmed, or at once when disconnected (the subscription is made on reconnect).
   */
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<void>
  /** Unsubscribes `channel`. */
  unsubscribe(channel: string): Promise<void>
  /**
   * Runs `fn` after every reconnect, once every channel is subscribed again. Messages published
   * while the connection was down are lost: use it to let clients catch up from the database.
   */
  onReconnect(fn: () => void): void
  /** Whether the connection is up. */
  readonly connected: boolean
  /** Closes the connection (no reconnect). */
  close(): void
}

/** The Redis handle of the process. */
export interface SharedRedis {
  /** The key and channel prefix (MLC_REDIS_KEY_PREFIX), e.g. `mlc:`: every key this cluster writes starts with it. */
  readonly prefix: string
  /** The per-command deadline on the request path (MLC_REDIS_TIMEOUT_MS). */
  readonly timeoutMs: number
  /** The command connection, for callers that need a method `send` does not cover (it may be replaced after a stall). */
  readonly client: RedisClient
  /** True while the command connection is up and not stalled: a command is worth sending. */
  readonly available: boolean
  /**
   * Sends one command on the command connection, answered within `timeoutMs` (default
   * MLC_REDIS_TIMEOUT_MS) or rejected with RedisUnavailableError; a server error reply rejects
   * with Bun's RedisError (ERR_REDIS_SERVER_ERROR). Fails at once while down or stalled.
   */
  send(command: string, args: string[], timeoutMs?: number): Promise<unknown>
  /** Opens a dedicated subscriber connection (pub/sub needs its own; see RedisSubscriber). */
  subscriber(): Promise<RedisSubscriber>
  /**
   * Health probe for /readyz: null when a PING answers within `timeoutMs` (default 1000), else
   * what went wrong in a few words (`cannot connect (ERR_...)`, `no answer within 1000 ms`).
   */
  probe(timeoutMs?: number): Promise<string | null>
  /** Called when Redis becomes unavailable (`false`) and available again (`true`). */
  onAvailability(fn: (available: boolean) => void): void
  /** Closes every connection; nothing reconnects afterwards. */
  close(): Promise<void>
}

/** The URL schemes Bun's client takes. */
const URL_PATTERN = /^(?:redis|rediss|redis\+tls|redis\+unix|redis\+tls\+unix|valkey|valkeys):\/\/\S+$/

/** A Redis URL with its password replaced, for messages and logs. */
export function redactRedisUrl(url: string): string {
  return redactPassword(url)
}

function clientOptions(timeoutMs: number) {
  return {
    enableOfflineQueue: false,
    autoReconnect: true,
    maxRetries: BUN_MAX_RETRIES,
    // A connection attempt to a stalled server (the TCP handshake succeeds, HELLO is never
    // answered) gives up after this; at least a second, so a busy server is not given up on.
    connectionTimeout: Math.max(1000, timeoutMs * 20),
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' ? code : String((err as Error)?.message ?? err)
}

/**
 * Opens the command connection of `config.redisUrl`. A Redis that cannot be reached yet does not
 * stop the start: the handle reports unavailable (limits fall back as documented), logs it, and
 * keeps reconnecting. A URL that is not a Redis URL is a ConfigError.
 */
export async function openRedis(config: Pick<Config, 'redisUrl' | 'redisTimeoutMs' | 'redisKeyPrefix'>, opts: { logger?: Logger } = {}): Promise<SharedRedis> {
  const url = config.redisUrl
  if (!URL_PATTERN.test(url)) {
    throw new ConfigError(`MLC_REDIS_URL must be empty or a redis:// (rediss://) URL, got ${JSON.stringify(redactRedisUrl(url))}`)
  }
  const handle = new RedisHandle(url, config.redisTimeoutMs, config.redisKeyPrefix, opts.logger)
  await handle.start()
  return handle
}

class RedisHandle implements SharedRedis {
  client: RedisClient
  private stalledSince = 0
  private probing: ReturnType<typeof setInterval> | null = null
  private reconnecting: ReturnType<typeof setInterval> | null = null
  private closed = false
  private wasAvailable = false
  private readonly availabilityListeners: ((available: boolean) => void)[] = []
  private readonly subscribers = new Set<Subscriber>()

  constructor(
    private readonly url: string,
    readonly timeoutMs: number,
    readonly prefix: string,
    private readonly logger: Logger | undefined,
  ) {
    this.client = this.newClient()
  }

  private newClient(): RedisClient {
    const client = new RedisClient(this.url, clientOptions(this.timeoutMs))
    client.onconnect = () => {
      if (client !== this.client) return
      this.stalledSince = 0
      this.stopProbing()
      this.noteAvailability()
    }
    client.onclose = () => {
      // Bun gave up reconnecting (or we closed it): from now on we reconnect.
      if (client !== this.client || this.closed) return
      this.noteAvailability()
      this.keepReconnecting()
    }
    return client
  }

  async start(): Promise<void> {
    const first = this.client.connect().then(
      () => null,
      (err) => errorCode(err),
    )
    const timer = new Promise<string>((resolve) => setTimeout(() => resolve(`no answer within ${FIRST_CONNECT_MS} ms`), FIRST_CONNECT_MS))
    const problem = await Promise.race([first, timer])
    if (problem === null) {
      this.wasAvailable = true
      this.logger?.info('connected to redis', { url: redactRedisUrl(this.url) })
      return
    }
    this.logger?.warn('redis unavailable at start; serving without it until it answers (see "More than one machine" in docs/operations.md)', {
      url: redactRedisUrl(this.url),
      error: problem,
    })
    this.keepReconnecting()
  }

  get available(): boolean {
    return this.client.connected && this.stalledSince === 0 && !this.closed
  }

  onAvailability(fn: (available: boolean) => void): void {
    this.availabilityListeners.push(fn)
  }

  /** Tells listeners (and the log) when availability changed since last noted. */
  private noteAvailability(): void {
    const now = this.available
    if (now === this.wasAvailable) return
    this.wasAvailable = now
    if (now) this.logger?.info('redis available again', { url: redactRedisUrl(this.url) })
    else this.logger?.warn('redis unavailable; shared limits fall back as documented until it answers', { url: redactRedisUrl(this.url) })
    for (const fn of this.availabilityListeners) {
      try {
        fn(now)
      } catch {}
    }
  }

  send(command: string, args: string[], timeoutMs = this.timeoutMs): Promise<unknown> {
    if (this.closed || !this.client.connected) {
      this.noteAvailability()
      return Promise.reject(new RedisUnavailableError('down', 'redis is not connected'))
    }
    if (this.stalledSince !== 0) return Promise.reject(new RedisUnavailableError('stalled', 'redis has not answered since an earlier command timed out'))
    return new Promise((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => {
        if (settled) return
        settled = true
        this.markStalled()
        reject(new RedisUnavailableError('timeout', `redis did not answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.client.send(command, args).then(
        (value) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resolve(value)
        },
        (err) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          // The connection dropped under the command: report it as Redis being down.
          if (errorCode(err) === 'ERR_REDIS_CONNECTION_CLOSED') {
            this.noteAvailability()
            reject(new RedisUnavailableError('down', 'redis connection closed'))
          } else reject(err)
        },
      )
    })
  }

  /** A command timed out: fail fast until a PING answers, and reopen the connection if none does for long. */
  private markStalled(): void {
    if (this.stalledSince !== 0 || this.closed) return
    this.stalledSince = performance.now()
    this.noteAvailability()
    let pinging = false
    this.probing = setInterval(() => {
      if (pinging || this.closed) return
      if (performance.now() - this.stalledSince > STALL_RECONNECT_MS) {
        // A half-open or frozen connection: start over with a new one.
        this.stopProbing()
        this.replaceClient()
        return
      }
      if (!this.client.connected) return
      pinging = true
      this.client.send('PING', []).then(
        () => {
          pinging = false
          if (this.stalledSince === 0) return
          this.stalledSince = 0
          this.stopProbing()
          this.noteAvailability()
        },
        () => {
          pinging = false
        },
      )
    }, PROBE_INTERVAL_MS)
  }

  private stopProbing(): void {
    if (this.probing) clearInterval(this.probing)
    this.probing = null
  }

  /** Drops the current command connection and opens a fresh one (commands fail fast meanwhile). */
  private replaceClient(): void {
    const old = this.client
    this.client = this.newClient()
    old.onclose = null
    old.onconnect = null
    old.close()
    this.stalledSince = 0
    this.noteAvailability()
    this.keepReconnecting()
  }

  /** Calls connect() every second until the command connection is up (Bun gave up, or never got it). */
  private keepReconnecting(): void {
    if (this.reconnecting || this.closed) return
    let attempt: Promise<void> | null = null
    const tick = () => {
      if (this.closed || this.client.connected) {
        if (this.reconnecting) clearInterval(this.reconnecting)
        this.reconnecting = null
        this.noteAvailability()
        return
      }
      if (attempt) return
      const client = this.client
      attempt = client.connect().then(
        () => {
          attempt = null
          if (client === this.client) tick()
        },
        () => {
          attempt = null
        },
      )
    }
    this.reconnecting = setInterval(tick, RECONNECT_INTERVAL_MS)
    tick()
  }

  async subscriber(): Promise<RedisSubscriber> {
    if (this.closed) throw new RedisUnavailableError('down', 'redis handle is closed')
    const sub = new Subscriber(this.url, this.timeoutMs, this.logger, () => this.subscribers.delete(sub))
    this.subscribers.add(sub)
    await sub.start()
    return sub
  }

  async probe(timeoutMs = 1000): Promise<string | null> {
    if (this.closed) return 'closed'
    if (!this.client.connected) return 'cannot connect (ERR_REDIS_CONNECTION_CLOSED)'
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs)
    })
    // The probe uses the client directly: a stalled connection must be reported even while `send` fails fast.
    const answer = this.client.send('PING', []).then(
      () => null,
      (err) => `cannot connect (${errorCode(err)})`,
    )
    try {
      return await Promise.race([answer, late])
    } finally {
      clearTimeout(timer)
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.stopProbing()
    if (this.reconnecting) clearInterval(this.reconnecting)
    this.reconnecting = null
    for (const sub of [...this.subscribers]) sub.close()
    this.client.onclose = null
    this.client.close()
  }
}

/** See RedisSubscriber. */
class Subscriber implements RedisSubscriber {
  private client: RedisClient
  private readonly listeners = new Map<string, (message: string, channel: string) => void>()
  private readonly reconnectHooks: (() => void)[] = []
  private everConnected = false
  private closed = false
  private reconnecting: ReturnType<typeof setInterval> | null = null

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger | undefined,
    private readonly onClosed: () => void,
  ) {
    this.client = this.newClient()
  }

  private newClient(): RedisClient {
    const client = new RedisClient(this.url, clientOptions(this.timeoutMs))
    client.onconnect = () => {
      if (client !== this.client || this.closed) return
      const again = this.everConnected
      this.everConnected = true
      if (again) void this.resubscribe()
    }
    client.onclose = () => {
      if (client !== this.client || this.closed) return
      this.keepReconnecting()
    }
    return client
  }

  async start(): Promise<void> {
    try {
      await this.client.connect()
      this.everConnected = true
    } catch (err) {
      this.logger?.warn('redis subscriber connection unavailable; retrying every second', { error: errorCode(err) })
      this.keepReconnecting()
    }
  }

  get connected(): boolean {
    return this.client.connected && !this.closed
  }

  /** After a reconnect: each channel's listener off and on again (Bun kept it, the server did not), then the hooks. */
  private async resubscribe(): Promise<void> {
    for (const [channel, listener] of this.listeners) {
      try {
        await this.client.unsubscribe(channel, listener)
      } catch {}
      try {
        await this.client.subscribe(channel, listener)
      } catch (err) {
        // Dropped again already: the next connect subscribes again.
        this.logger?.warn('redis re-subscribe failed; retrying on the next reconnect', { channel, error: errorCode(err) })
        return
      }
    }
    this.logger?.info('redis subscriber reconnected', { channels: this.listeners.size })
    for (const fn of this.reconnectHooks) {
      try {
        fn()
      } catch {}
    }
  }

  private keepReconnecting(): void {
    if (this.reconnecting || this.closed) return
    let attempt: Promise<void> | null = null
    this.reconnecting = setInterval(() => {
      if (this.closed || this.client.connected) {
        if (this.reconnecting) clearInterval(this.reconnecting)
        this.reconnecting = null
        return
      }
      if (attempt) return
      attempt = this.client.connect().then(
        () => {
          attempt = null
        },
        () => {
          attempt = null
        },
      )
    }, RECONNECT_INTERVAL_MS)
  }

  async subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<void> {
    const previous = this.listeners.get(channel)
    this.listeners.set(channel, listener)
    if (!this.client.connected) return
    if (previous) {
      try {
        await this.client.unsubscribe(channel, previous)
      } catch {}
    }
    await this.client.subscribe(channel, listener)
  }

  async unsubscribe(channel: string): Promise<void> {
    const listener = this.listeners.get(channel)
    if (!listener) return
    this.listeners.delete(channel)
    if (this.client.connected) await this.client.unsubscribe(channel, listener)
  }

  onReconnect(fn: () => void): void {
    this.reconnectHooks.push(fn)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.reconnecting) clearInterval(this.reconnecting)
    this.reconnecting = null
    this.client.onclose = null
    this.client.close()
    this.onClosed()
  }
}
