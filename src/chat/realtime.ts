/**
 * The realtime hub: a small pub/sub that the chat services publish to after each commit, and
 * that WebSocket connections subscribe to. Two kinds of topic:
 * - `session:<id>`: one chat, for the visitor's widget (messages and status changes);
 * - `site:<id>`: everything of one site, for agents' inboxes (also new sessions, handoffs, feedback).
 * Each event is serialised once and written to every local subscriber; a subscriber that throws
 * is dropped, so one broken socket cannot stop the others.
 *
 * The hub delivers to this instance's sockets itself, synchronously. With several instances a
 * fan-out (src/shared/fanout.ts; Redis pub/sub) carries the frame to the others, whose hubs
 * deliver it to theirs: each socket gets each event once, whichever instance published it. When
 * the fan-out may have lost frames, the sockets concerned get `{"type":"resync"}` and re-read
 * from the database. Without a shared fan-out nothing of this runs: `publish` is what it was.
 */
import { createInProcessFanout, type Fanout, type FanoutSink } from '../shared/fanout'

/** Anything that can receive a text frame (Bun's ServerWebSocket, or a test double). */
export interface RealtimeClient {
  send(data: string): unknown
}

/** An event pushed to subscribers. Field names follow the API's (snake_case, `*_utc`). */
export type RealtimeEvent =
  | { type: 'message'; session_id: string; message: Record<string, unknown> }
  | { type: 'status'; session_id: string; status: string; handoff_reason: string | null; closed_by: string | null }
  | { type: 'session'; session: Record<string, unknown> }
  | { type: 'handoff'; handoff: Record<string, unknown> }
  | { type: 'feedback'; feedback: Record<string, unknown> }

/** Tells a client that events may have been missed: re-read what it shows from the API. */
export const RESYNC_FRAME = '{"type":"resync"}'

/** Resync frames sent in one go; more wait RESYNC_SPREAD_MS per batch, so clients do not all re-read at once. */
const RESYNC_BATCH = 500
const RESYNC_SPREAD_MS = 50

/** The topic of one chat session. */
export function sessionTopic(sessionId: string): string {
  return `session:${sessionId}`
}

/** The topic of a whole site (agents). */
export function siteTopic(siteId: number): string {
  return `site:${siteId}`
}

export class RealtimeHub implements FanoutSink {
  private readonly topics = new Map<string, Set<RealtimeClient>>()
  private readonly controls = new Map<string, (arg: string) => void>()
  /** Whether events go to other instances too (decided once: the in-process path never asks again). */
  private readonly shared: boolean

  /** A hub over `fanout` (in-process when omitted: this instance's sockets only). */
  constructor(readonly fanout: Fanout = createInProcessFanout()) {
    this.shared = fanout.shared
    if (this.shared) fanout.attach(this)
  }

  /** Adds `client` to `topic`. */
  subscribe(topic: string, client: RealtimeClient): void {
    let set = this.topics.get(topic)
    if (!set) {
      set = new Set()
      this.topics.set(topic, set)
    }
    set.add(client)
  }

  /** Removes `client` from `topic`. */
  unsubscribe(topic: string, client: RealtimeClient): void {
    const set = this.topics.get(topic)
    if (!set) return
    set.delete(client)
    if (set.size === 0) this.topics.delete(topic)
  }

  /**
   * Sends `event` to every subscriber of each of `topics` (once per client), on this instance
   * and, through the fan-out, on the others. Returns how many local subscribers got it.
   */
  publish(topics: string[], event: RealtimeEvent): number {
    if (!this.shared) return this.deliver(topics, event)
    const frame = JSON.stringify(event)
    this.fanout.publish(topics, frame)
    return this.deliver(topics, frame)
  }

  /** Sends a frame (or an event, serialised once if anyone listens) to this instance's subscribers of `topics`. */
  deliver(topics: readonly string[], event: string | RealtimeEvent): number {
    const clients = new Set<RealtimeClient>()
    for (const topic of topics) for (const c of this.topics.get(topic) ?? []) clients.add(c)
    if (clients.size === 0) return 0
    const frame = typeof event === 'string' ? event : JSON.stringify(event)
    let sent = 0
    for (const c of clients) {
      try {
        c.send(frame)
        sent++
      } catch {
        for (const topic of topics) this.unsubscribe(topic, c)
      }
    }
    return sent
  }

  /**
   * Tells this instance's subscribers of `topics` (all of them when null) to re-read from the
   * database: `{"type":"resync"}`. Past RESYNC_BATCH clients the frames are spread out, so a
   * Redis blip does not send every client to the database in the same millisecond. Returns how
   * many clients will get it.
   */
  resync(topics: readonly string[] | null): number {
    const clients = new Set<RealtimeClient>()
    for (const [topic, set] of this.topics) {
      if (topics !== null && !topics.includes(topic)) continue
      for (const c of set) clients.add(c)
    }
    const all = [...clients]
    const send = (from: number) => {
      for (const c of all.slice(from, from + RESYNC_BATCH)) {
        try {
          c.send(RESYNC_FRAME)
        } catch {
          for (const [topic, set] of this.topics) if (set.has(c)) this.unsubscribe(topic, c)
        }
      }
      if (from + RESYNC_BATCH < all.length) setTimeout(() => send(from + RESYNC_BATCH), RESYNC_SPREAD_MS)
    }
    if (all.length) send(0)
    return all.length
  }

  /** Runs `handler` for control messages named `name`, from this instance (`control`) or another. */
  onControl(name: string, handler: (arg: string) => void): void {
    this.controls.set(name, handler)
  }

  /** Runs the `name` control handler here and on every other instance (e.g. close a signed-out session's sockets). */
  control(name: string, arg: string): void {
    this.handleControl(name, arg)
    if (this.shared) this.fanout.control(name, arg)
  }

  /** Runs the `name` control handler on this instance only (what the fan-out calls for another instance's `control`). */
  handleControl(name: string, arg: string): void {
    this.controls.get(name)?.(arg)
  }

  /** Subscribers of a topic (for tests and metrics). */
  count(topic: string): number {
    return this.topics.get(topic)?.size ?? 0
  }
}
