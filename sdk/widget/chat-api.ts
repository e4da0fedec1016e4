/**
 * The widget's client for the chat endpoints (`/v1/widget/...`): REST calls authenticated by the
 * site's publishable key, and the session's WebSocket with reconnection. Every call answers the
 * envelope's `data` or throws an Error carrying the server's message and status.
 */
import { PATHS } from '../src/protocol'

/** A chat message as the server shows it. */
export interface ChatMessage {
  id: number
  role: 'visitor' | 'ai' | 'agent' | 'system'
  text: string
  author?: string | null
  created_utc?: string
}

/** A conversation starter as the server shows it (or a bare prompt). */
export type Starter = { id?: number; prompt: string } | string

/** What opening a session answers. */
export interface OpenedSession {
  session_id: string
  starters: Starter[]
  ws_url: string
  status?: string
}

/** A realtime frame of the session topic. */
export type ChatEvent = { type: 'message'; message: ChatMessage } | { type: 'status'; status: string; handoff_reason?: string | null }

/** An API error with its HTTP status. */
export class ChatApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
  }
}

/** Talks to one server as one site. */
export class ChatApi {
  constructor(
    private readonly base: string,
    private readonly siteKey: string,
  ) {}

  private async call<T>(method: string, path: string, body?: object): Promise<T> {
    const res = await fetch(this.base + path, {
      method,
      headers: { Authorization: `Bearer ${this.siteKey}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    let json: { ok?: boolean; data?: T; error?: { message?: string } } = {}
    try {
      json = await res.json()
    } catch {}
    if (!res.ok || !json.ok) throw new ChatApiError(json.error?.message || `HTTP ${res.status}`, res.status)
    return json.data as T
  }

  /** Opens a chat for this visitor. */
  open(visitor: { visitor_key?: string; anon_id?: string }): Promise<OpenedSession> {
    return this.call('POST', PATHS.widgetSessions, { site_key: this.siteKey, ...visitor })
  }

  /** Sends the visitor's message; answers what the server returns (the stored message and any bot reply). */
  send(sessionId: string, text: string): Promise<unknown> {
    return this.call('POST', `${PATHS.widgetSessions}/${encodeURIComponent(sessionId)}/messages`, { text })
  }

  /** Messages after id `after`, oldest first. */
  messages(sessionId: string, after: number): Promise<ChatMessage[] | { messages: ChatMessage[]; status?: string }> {
    return this.call('GET', `${PATHS.widgetSessions}/${encodeURIComponent(sessionId)}/messages?after=${after}`)
  }

  /** Asks for a human. */
  handoff(sessionId: string, reason?: string): Promise<unknown> {
    return this.call('POST', `${PATHS.widgetSessions}/${encodeURIComponent(sessionId)}/handoff`, reason ? { reason } : {})
  }

  /** Ends the chat from the visitor's side. */
  close(sessionId: string): Promise<unknown> {
    return this.call('POST', `${PATHS.widgetSessions}/${encodeURIComponent(sessionId)}/close`, {})
  }

  /** The post-chat rating. */
  feedback(sessionId: string, rating: number, comment?: string): Promise<unknown> {
    return this.call('POST', `${PATHS.widgetSessions}/${encodeURIComponent(sessionId)}/feedback`, comment ? { rating, comment } : { rating })
  }
}

/**
 * Keeps one WebSocket open to `url` while `active()` says so, reconnecting with backoff
 * (1 s doubling to 30 s); `onOpen` runs on each (re)connect so the caller can fetch what it missed.
 */
export function keepSocket(url: string, onEvent: (e: ChatEvent) => void, onOpen: () => void): { stop(): void } {
  let ws: WebSocket | null = null
  let tries = 0
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const connect = () => {
    if (stopped) return
    try {
      ws = new WebSocket(url)
    } catch {
      return retry()
    }
    ws.onopen = () => {
      tries = 0
      onOpen()
    }
    ws.onmessage = (m) => {
      try {
        onEvent(JSON.parse(String(m.data)))
      } catch {}
    }
    ws.onclose = () => retry()
  }
  const retry = () => {
    if (stopped) return
    timer = setTimeout(connect, Math.min(1000 * 2 ** tries++, 30_000))
  }
  connect()
  return {
    stop() {
      stopped = true
      clearTimeout(timer)
      ws?.close()
    },
  }
}
