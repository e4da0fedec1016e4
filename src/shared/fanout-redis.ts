/**
 * The Redis fan-out: every instance publishes its realtime frames to one channel
 * (`<prefix>realtime`) and subscribes to it on a dedicated connection; each frame names its topics
 * and the instance that published it, so every instance hands it to its own sockets except the
 * publisher, whose hub delivered it already (once, not twice). One channel with routing rather
 * than a channel per session: behind a load balancer every instance holds sockets of every busy
 * site anyway, and one subscription is one thing to restore after a reconnect.
 *
 * Messages on the channel (one line of routing, then the payload as the hub serialised it):
 * - `d <instance> <topic>,<topic>\n<frame>`: a frame for the subscribers of those topics;
 * - `r <instance> <topic>,<topic>` or `r <instance> *`: frames for those topics (all) were lost:
 *   subscribers are to re-read from the database (`{"type":"resync"}`);
 * - `c <instance> <name>\n<arg>`: a control message (e.g. close a signed-out dashboard session's sockets);
 * - `h <instance>`: a heartbeat, once a second; an instance that stops hearing its own knows its
 *   subscription is deaf (a connection that looks up but is not subscribed, or frozen).
 *
 * Nothing here runs on a request's way: `publish` hands the frame to the command connection and
 * returns; nothing awaits it. When Redis is unreachable, local delivery goes on as before
 * (fail open: a chat whose visitor and agent sit on the same instance still works), frames for
 * the others are dropped and remembered by topic, and once Redis answers again:
 * - the topics this instance could not publish get an `r` message, so the instances that missed
 *   them tell their sockets to resync;
 * - an instance whose subscription was down (a reconnect, or a deaf spell) tells all its sockets
 *   to resync, since it cannot know what it missed.
 * The clients re-read from the database (the widget with `after=`, the dashboard re-reads the
 * page, API clients as docs/chat.md says), so a gap costs a re-read, never a lost message.
 */
import type { Clock } from '../clock'
import type { Logger } from '../log'
import { randomSecret } from '../random'
import type { Fanout, FanoutSink, FanoutStatus } from './fanout'

/** What the fan-out needs of the process's Redis handle (src/shared/redis.ts's SharedRedis). */
export interface FanoutRedis {
  readonly prefix: string
  /**
   * The command connection (read it for every command: it is replaced after a long stall). The
   * fan-out publishes on it directly, not through the handle's `send`: that one's deadline
   * (MLC_REDIS_TIMEOUT_MS, 50 ms) and its fail-fast spell after a slow command are made for the
   * request path; a frame is worth waiting `publishTimeoutMs` (1 s) for, and nothing waits on it.
   */
  readonly client: { readonly connected: boolean; send(command: string, args: string[]): Promise<unknown> }
  /** Called when the command connection becomes unavailable (false) and available again (true). */
  onAvailability(fn: (available: boolean) => void): void
  /** A dedicated subscriber connection that subscribes again after a reconnect. */
  subscriber(): Promise<FanoutSubscriber>
}

/** A subscriber connection (src/shared/redis.ts's RedisSubscriber). */
export interface FanoutSubscriber {
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<void>
  /** Runs after every reconnect, once the channels are subscribed again. */
  onReconnect(fn: () => void): void
  readonly connected: boolean
  close(): void
}

export interface RedisFanoutOptions {
  redis: FanoutRedis
  clock: Clock
  logger: Logger
  /** Heartbeat period (ms): the fan-out publishes a heartbeat and checks its connections this often. */
  heartbeatMs?: number
  /** Not hearing its own heartbeat for this long (ms) counts as a gap. */
  deafAfterMs?: number
  /** Deaf for this long (ms) while publishing works: the subscriber connection is replaced. */
  reopenAfterMs?: number
  /** A PUBLISH unanswered for this long (ms) counts as lost (its topics resync). */
  publishTimeoutMs?: number
}

/** More distinct lost topics than this are remembered as "every topic". */
const MAX_MISSED_TOPICS = 10_000
/** Control messages waiting for Redis to come back, at most. */
const MAX_PENDING_CONTROLS = 1_000

/** The Redis fan-out (see the top of this file). */
export function createRedisFanout(opts: RedisFanoutOptions): Fanout {
  const { redis, clock, logger } = opts
  const heartbeatMs = opts.heartbeatMs ?? 1000
  const deafAfterMs = opts.deafAfterMs ?? 3 * heartbeatMs
  const reopenAfterMs = opts.reopenAfterMs ?? 5 * heartbeatMs
  const publishTimeoutMs = opts.publishTimeoutMs ?? 1000
  const channel = `${redis.prefix}realtime`
  // Unique per process start: tells this instance's own messages from the others'.
  const instance = randomSecret('', 9)
  const heartbeat = `h ${instance}`

  let sink: FanoutSink | null = null
  let sub: FanoutSubscriber | null = null
  let opening = false
  /** The current subscriber's subscription was confirmed by the server (or restored after a reconnect). */
  let confirmed = false
  let closed = false
  let timer: ReturnType<typeof setInterval> | null = null
  /** When this instance last heard its own heartbeat (performance.now()); the subscription works. */
  let heardMs = Number.NEGATIVE_INFINITY
  /**
   * Since when (performance.now()) frames from others may have been missed, or null. Deaf from
   * the start: a socket that connected before the first subscription is told to resync by it.
   */
  let deafSince: number | null = performance.now()
  let deafSinceClock: number | null = clock.now()
  let everReceived = false
  let warnedAtStart = false
  /** Since when (performance.now()) frames of this instance could not be published, or null. */
  let muteSince: number | null = null
  let muteSinceClock: number | null = null
  /** Topics whose frames could not be published (null: none; '*' : too many to list). */
  let missed: Set<string> | '*' | null = null
  const pendingControls: string[] = []
  let flushing = false
  /** PUBLISHes not answered yet, oldest first: a message unanswered for publishTimeoutMs counts as lost. */
  const inflight = new Map<number, { topics: readonly string[] | null; at: number }>()
  let sequence = 0
  /** When a PUBLISH of this instance last succeeded (performance.now()). */
  let publishedOkMs = Number.NEGATIVE_INFINITY
  const counts = { published: 0, received: 0, dropped: 0, resyncs: 0 }

  function noteMissed(topics: readonly string[]): void {
    counts.dropped++
    if (muteSince === null) {
      muteSince = performance.now()
      muteSinceClock = clock.now()
      logger.warn('live chat fan-out cannot publish to redis; events reach this instance only until it is back, then the others resync', {
        channel,
      })
    }
    if (missed === '*') return
    missed ??= new Set()
    for (const t of topics) missed.add(t)
    if (missed.size > MAX_MISSED_TOPICS) missed = '*'
  }

  /** Publishes one message, without waiting; a failure (or no answer within publishTimeoutMs) records `topics` as missed. */
  function send(message: string, topics: readonly string[] | null): void {
    const client = redis.client
    if (!client.connected) {
      if (topics) noteMissed(topics)
      return
    }
    const id = ++sequence
    inflight.set(id, { topics, at: performance.now() })
    client.send('PUBLISH', [channel, message]).then(
      () => {
        // Answered after it was given up: already counted as missed.
        if (!inflight.delete(id)) return
        publishedOkMs = performance.now()
        if (muteSince !== null) void flush()
      },
      () => {
        const entry = inflight.get(id)
        if (entry === undefined) return
        inflight.delete(id)
        if (entry.topics) noteMissed(entry.topics)
      },
    )
  }

  /** Counts PUBLISHes unanswered for publishTimeoutMs as missed (a frozen Redis answers nothing). */
  function expireInflight(now: number): void {
    for (const [id, entry] of inflight) {
      if (now - entry.at < publishTimeoutMs) break
      inflight.delete(id)
      if (entry.topics) noteMissed(entry.topics)
    }
  }

  /** One PUBLISH that the caller awaits: rejects when not connected, on an error, or after publishTimeoutMs. */
  function publishNow(message: string): Promise<void> {
    const client = redis.client
    if (!client.connected) return Promise.reject(new Error('redis not connected'))
    let timer: ReturnType<typeof setTimeout> | undefined
    return Promise.race([
      client.send('PUBLISH', [channel, message]).then(() => {
        publishedOkMs = performance.now()
      }),
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${publishTimeoutMs} ms`)), publishTimeoutMs)
      }),
    ]).finally(() => clearTimeout(timer))
  }

  /** Once publishing works again: the `r` message for what was missed, then waiting control messages. */
  async function flush(): Promise<void> {
    if (flushing || closed || !redis.client.connected) return
    flushing = true
    try {
      if (missed !== null) {
        // Taken out while the `r` is on its way: topics missed meanwhile start a new set.
        const lost = missed
        missed = null
        try {
          await publishNow(`r ${instance} ${lost === '*' ? '*' : [...lost].join(',')}`)
        } catch (err) {
          if (lost === '*' || missed === '*') missed = '*'
          else {
            const merged: Set<string> = missed ?? new Set()
            for (const t of lost) merged.add(t)
            missed = merged.size > MAX_MISSED_TOPICS ? '*' : merged
          }
          throw err
        }
      }
      while (pendingControls.length) {
        await publishNow(pendingControls[0] as string)
        pendingControls.shift()
      }
      if (missed === null && muteSince !== null) {
        logger.info('live chat fan-out publishes to redis again; the other instances were told to resync', {
          channel,
          gap_ms: Math.round(performance.now() - muteSince),
        })
        muteSince = null
        muteSinceClock = null
      }
    } catch {
      // Still failing: the next heartbeat tries again.
    } finally {
      flushing = false
    }
  }

  /** The subscription works (again): every local socket re-reads, as frames of others may have been missed. */
  function recovered(why: string): void {
    const gap = deafSince === null ? null : Math.round(performance.now() - deafSince)
    deafSince = null
    deafSinceClock = null
    heardMs = performance.now()
    counts.resyncs++
    const sockets = sink?.resync(null) ?? 0
    if (!everReceived) logger.info('live chat fan-out subscribed to redis', { channel, sockets_resynced: sockets })
    else logger.info("live chat fan-out receives from redis again; told this instance's sockets to resync", { channel, why, gap_ms: gap, sockets })
    everReceived = true
  }

  function noteDeaf(why: string): void {
    if (deafSince !== null) {
      if (!everReceived && !warnedAtStart) {
        warnedAtStart = true
        logger.warn('live chat fan-out not subscribed to redis yet; events of other instances are missed until it is, then sockets resync', { channel, why })
      }
      return
    }
    deafSince = performance.now()
    deafSinceClock = clock.now()
    logger.warn('live chat fan-out is not receiving from redis; events of other instances are missed until it is back, then sockets resync', {
      channel,
      why,
    })
  }

  function onMessage(message: string): void {
    const kind = message.charCodeAt(0)
    const end = message.indexOf(' ', 2)
    const origin = end < 0 ? message.slice(2) : message.slice(2, end)
    if (origin === instance) {
      if (kind === 104 /* h */) {
        heardMs = performance.now()
        if (deafSince !== null) recovered('heartbeat heard again')
      }
      return
    }
    if (kind === 104 || end < 0 || sink === null) return
    counts.received++
    if (kind === 100 /* d */) {
      const nl = message.indexOf('\n', end)
      if (nl < 0) return
      sink.deliver(message.slice(end + 1, nl).split(','), message.slice(nl + 1))
    } else if (kind === 114 /* r */) {
      const list = message.slice(end + 1)
      counts.resyncs++
      sink.resync(list === '*' ? null : list.split(','))
    } else if (kind === 99 /* c */) {
      const nl = message.indexOf('\n', end)
      if (nl < 0) return
      sink.handleControl(message.slice(end + 1, nl), message.slice(nl + 1))
    }
  }

  /** Opens (or reopens) the subscriber connection and subscribes the channel. */
  async function open(): Promise<void> {
    if (opening || closed) return
    opening = true
    try {
      const old = sub
      sub = null
      confirmed = false
      old?.close()
      const s = await redis.subscriber()
      if (closed) {
        s.close()
        return
      }
      sub = s
      s.onReconnect(() => {
        if (sub !== s) return
        confirmed = true
        recovered('reconnected')
      })
      await subscribeOn(s)
    } catch (err) {
      noteDeaf(`subscribe failed: ${String(err)}`)
    } finally {
      opening = false
    }
  }

  /**
   * Subscribes the channel on `s`. Confirmed when `s` was connected throughout (the server
   * answered); a subscriber that was still connecting resolves at once without subscribing, and
   * the next heartbeat that finds it connected subscribes again.
   */
  async function subscribeOn(s: FanoutSubscriber): Promise<void> {
    const wasConnected = s.connected
    await s.subscribe(channel, onMessage)
    // Counted from now: a subscription that never hears itself is reopened after reopenAfterMs.
    heardMs = performance.now()
    if (wasConnected && s.connected && sub === s && !confirmed) {
      confirmed = true
      recovered('subscribed')
    }
  }

  /** Once a heartbeat: publish the heartbeat, notice deafness, retry what failed. */
  function tick(): void {
    if (closed) return
    const now = performance.now()
    expireInflight(now)
    if (redis.client.connected) {
      send(heartbeat, null)
      if (missed !== null || pendingControls.length) void flush()
    }
    if (sub === null) {
      if (!opening) void open()
      return
    }
    if (!sub.connected) {
      noteDeaf('subscriber connection down')
      return
    }
    if (!confirmed && !opening) {
      opening = true
      void subscribeOn(sub)
        .catch((err) => noteDeaf(`subscribe failed: ${String(err)}`))
        .finally(() => {
          opening = false
        })
      return
    }
    // Deafness is only judged while this instance's heartbeats are published (its PUBLISHes
    // answered lately): when Redis answers nothing at all, the publishers' missed topics say what to resync.
    if (now - publishedOkMs < 2 * heartbeatMs && now - heardMs > deafAfterMs) {
      noteDeaf('own heartbeat not heard')
      if (now - heardMs > reopenAfterMs && !opening) {
        logger.warn('live chat fan-out subscription hears nothing; opening a new subscriber connection', { channel })
        void open()
      }
    }
  }

  return {
    shared: true,
    attach(s) {
      sink = s
    },
    publish(topics, frame) {
      counts.published++
      send(`d ${instance} ${topics.join(',')}\n${frame}`, topics)
    },
    control(name, arg) {
      const message = `c ${instance} ${name}\n${arg}`
      // Kept until published (control messages are idempotent: a late one does no harm).
      publishNow(message).catch(() => {
        if (pendingControls.length < MAX_PENDING_CONTROLS) pendingControls.push(message)
      })
    },
    start() {
      if (timer !== null || closed) return
      redis.onAvailability((up) => {
        if (up) void flush()
      })
      void open()
      timer = setInterval(tick, heartbeatMs)
    },
    async close() {
      closed = true
      if (timer !== null) clearInterval(timer)
      timer = null
      sub?.close()
      sub = null
    },
    status(): FanoutStatus {
      return {
        kind: 'redis',
        receiving: (sub?.connected ?? false) && deafSince === null,
        sending: redis.client.connected && muteSince === null,
        degradedSinceMs: deafSinceClock === null ? muteSinceClock : muteSinceClock === null ? deafSinceClock : Math.min(deafSinceClock, muteSinceClock),
        ...counts,
      }
    },
  }
}
