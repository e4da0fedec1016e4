/**
 * Fan-out: how an event published on one instance reaches the WebSockets held by the others.
 * The realtime hub (src/chat/realtime.ts) always delivers to its own sockets itself, at once and
 * synchronously; a fan-out carries the same frame to every other instance, whose hub delivers it
 * to theirs. Two implementations:
 * - in-process (this file): one instance, nothing to carry. The hub checks `shared` once and
 *   never serialises or allocates for it, so the single-instance path is what it always was;
 * - Redis pub/sub (./fanout-redis.ts): every instance publishes to and subscribes to one channel.
 *
 * A fan-out may lose frames (Redis unreachable, a subscriber reconnecting). It never hides a
 * loss: it tells the hub to `resync`, and the hub sends the affected sockets `{"type":"resync"}`
 * so the clients re-read from the database (docs/chat.md, "Several instances").
 */

/** What a fan-out hands frames from other instances to: the realtime hub. */
export interface FanoutSink {
  /** Delivers a frame published elsewhere to this instance's subscribers of `topics`. */
  deliver(topics: readonly string[], frame: string): number
  /**
   * Frames for `topics` (every topic when null) may have been lost: their subscribers should
   * catch up from the database.
   */
  resync(topics: readonly string[] | null): number
  /** Runs a control message published elsewhere (see `Fanout.control`) here, without passing it on. */
  handleControl(name: string, arg: string): void
}

/** What a fan-out reports, for logs, /readyz and tests. */
export interface FanoutStatus {
  kind: 'in-process' | 'redis'
  /** Frames published elsewhere reach this instance (always true in-process). */
  receiving: boolean
  /** Frames published here reach the others (always true in-process). */
  sending: boolean
  /** Since when (ms, from the clock) frames may be lost, or null. */
  degradedSinceMs: number | null
  published: number
  received: number
  /** Frames that could not be handed to the other instances (their subscribers are told to resync). */
  dropped: number
  /** Times this instance told its sockets to resync after a gap. */
  resyncs: number
}

export interface Fanout {
  /** False in-process: the hub then skips everything fan-out related. */
  readonly shared: boolean
  /** Hands frames published elsewhere to `sink` (called once, by the hub). */
  attach(sink: FanoutSink): void
  /** Carries `frame` for `topics` to the other instances. Never throws, never waits. */
  publish(topics: readonly string[], frame: string): void
  /** Carries a control message (`name`, `arg`) to the other instances. Never throws, never waits. */
  control(name: string, arg: string): void
  /** Starts connecting (in the background: a fan-out never holds up a start). */
  start(): void
  /** Stops: closes its connections. */
  close(): Promise<void>
  status(): FanoutStatus
}

/** The in-process fan-out: a single instance has no one to tell. */
export function createInProcessFanout(): Fanout {
  return {
    shared: false,
    attach() {},
    publish() {},
    control() {},
    start() {},
    async close() {},
    status: () => ({
      kind: 'in-process',
      receiving: true,
      sending: true,
      degradedSinceMs: null,
      published: 0,
      received: 0,
      dropped: 0,
      resyncs: 0,
    }),
  }
}
