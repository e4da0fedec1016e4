/**
 * The realtime hub: a small in-process pub/sub that the chat services publish to after each
 * commit, and that WebSocket connections subscribe to. Two kinds of topic:
 * - `session:<id>`: one chat, for the visitor's widget (messages and status changes);
 * - `site:<id>`: everything of one site, for agents' inboxes (also new sessions, handoffs, feedback).
 * Each event is serialised once and written to every subscriber; a subscriber that throws is
 * dropped, so one broken socket cannot stop the others.
 */

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

/** The topic of one chat session. */
export function sessionTopic(sessionId: string): string {
  return `session:${sessionId}`
}

/** The topic of a whole site (agents). */
export function siteTopic(siteId: number): string {
  return `site:${siteId}`
}

export class RealtimeHub {
  private readonly topics = new Map<string, Set<RealtimeClient>>()

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

  /** Sends `event` to every subscriber of each of `topics` (once per client). Returns how many got it. */
  publish(topics: string[], event: RealtimeEvent): number {
    const clients = new Set<RealtimeClient>()
    for (const topic of topics) for (const c of this.topics.get(topic) ?? []) clients.add(c)
    if (clients.size === 0) return 0
    const frame = JSON.stringify(event)
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

  /** Subscribers of a topic (for tests and metrics). */
  count(topic: string): number {
    return this.topics.get(topic)?.size ?? 0
  }
}
