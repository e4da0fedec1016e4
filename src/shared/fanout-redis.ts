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
  /** The command connection is up and answering. */
  readonly available: boolean
  /** One command on the command connection, with the handle's deadline. */
  send(command: string, args: string[]): Promise<unknown>
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

  /** Publishes one message; a failure records `topics` as missed. */
  function send(message: string, topics: readonly string[] | null): void {
    if (!redis.available) {
      if (topics) noteMissed(topics)
      return
    }
    redis.send('PUBLISH', [channel, message]).then(
      () => {
        if (muteSince !== null) void flush()
      },
      () => {
        if (topics) noteMissed(topics)
      },
    )
  }

  /** Once publishing works again: the `r` message for what was missed, then waiting control messages. */
  async function flush(): Promise<void> {
    if (flushing || closed || !redis.available) return
    flushing = true
    try {
      if (missed !== null) {
        // Taken out while the `r` is on its way: topics missed meanwhile start a new set.
        const lost = missed
        missed = null
        try {
          await redis.send('PUBLISH', [channel, `r ${instance} ${lost === '*' ? '*' : [...lost].join(',')}`])
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
        await redis.send('PUBLISH', [channel, pendingControls[0] as string])
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
    if (redis.available) {
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
    // Deafness is only judged while this instance can publish its heartbeat.
    if (redis.available && now - heardMs > deafAfterMs) {
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
      if (redis.available) {
        redis.send('PUBLISH', [channel, message]).catch(() => {
          if (pendingControls.length < MAX_PENDING_CONTROLS) pendingControls.push(message)
        })
      } else if (pendingControls.length < MAX_PENDING_CONTROLS) pendingControls.push(message)
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
        sending: redis.available && muteSince === null,
        degradedSinceMs: deafSinceClock === null ? muteSinceClock : muteSinceClock === null ? deafSinceClock : Math.min(deafSinceClock, muteSinceClock),
        ...counts,
      }
    },
  }
}
