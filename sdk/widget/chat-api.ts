/**
 * The widget's client for the chat endpoints (`/v1/widget/...`): REST calls naming the site by its
 * publishable key (X-MLC-Site-Key) and the visitor by the anonymous id the session was opened
 * with, and the session's WebSocket with reconnection. Every call answers the envelope's `data`
 * or throws a ChatApiError with the server's message and status.
 */
import { PATHS, SITE_KEY_HEADER } from '../src/protocol'

/** A chat message as the server shows it. */
export interface ChatMessage {
  id: number
  role: 'visitor' | 'ai' | 'agent' | 'system'
  text: string
  author?: string | null
  created_utc?: string
}

/** What opening a session answers. */
export interface OpenedSession {
  session_id: string
  status: string
  starters: { id: number; prompt: string }[]
  ws_url: string
}

/** The session as the widget endpoints show it. */
export interface WidgetSession {
  session_id: string
  status: string
  rated?: boolean
}

/** A page of the session's messages. */
export interface MessagesPage {
  status: string
  messages: ChatMessage[]
  has_more: boolean
}

/** A realtime frame of the session topic. */
/** A frame of the session's socket; `resync`: events may have been missed (a server-side gap), re-read. */
export type ChatEvent = { type: 'message'; message: ChatMessage } | { type: 'status' | 'hello'; status: string } | { type: 'resync'; status?: undefined }

/** An API error with its HTTP status. */
export class ChatApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
  }
}

/** Talks to one server as one site and one visitor (`anonId`, the credential every call carries). */
export class ChatApi {
  constructor(
    private readonly base: string,
    private readonly siteKey: string,
    private readonly anonId: string,
  ) {}

  private async call<T>(method: 'GET' | 'POST', path: string, body?: object): Promise<T> {
    const url = new URL(this.base + PATHS.widgetSessions + path)
    if (method === 'GET') url.searchParams.set('anon_id', this.anonId)
    const res = await fetch(url, {
      method,
      headers: { [SITE_KEY_HEADER]: this.siteKey, ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}) },
      body: method === 'POST' ? JSON.stringify({ anon_id: this.anonId, ...body }) : undefined,
    })
    let json: { ok?: boolean; data?: T; error?: { message?: string } } = {}
    try {
      json = await res.json()
    } catch {}
    if (!res.ok || !json.ok) throw new ChatApiError(json.error?.message || `HTTP ${res.status}`, res.status)
    return json.data as T
  }

  /** Opens a chat; an identified visitor adds their key (and identity token, when the site verifies). */
  open(visitorKey?: string, identityToken?: string): Promise<OpenedSession> {
    return this.call('POST', '', visitorKey ? { visitor_key: visitorKey, ...(identityToken ? { identity_token: identityToken } : {}) } : {})
  }

  /** Sends the visitor's message: answers `{ message, reply, status }`. */
  send(id: string, text: string): Promise<{ message: ChatMessage; reply: ChatMessage | null; status: string }> {
    return this.call('POST', `/${encodeURIComponent(id)}/messages`, { text })
  }

  /** Messages after id `after`, oldest first. */
  messages(id: string, after: number): Promise<MessagesPage> {
    return this.call('GET', `/${encodeURIComponent(id)}/messages?after=${after}`)
  }

  /** Asks for a human. */
  handoff(id: string): Promise<WidgetSession> {
    return this.call('POST', `/${encodeURIComponent(id)}/handoff`)
  }

  /** Ends the chat from the visitor's side. */
  close(id: string): Promise<WidgetSession> {
    return this.call('POST', `/${encodeURIComponent(id)}/close`)
  }

  /** The post-chat rating. */
  feedback(id: string, rating: number, comment?: string): Promise<unknown> {
    return this.call('POST', `/${encodeURIComponent(id)}/feedback`, comment ? { rating, comment } : { rating })
  }
}

/**
 * Keeps one WebSocket open to `url` until stopped, reconnecting with backoff (1 s doubling to
 * 30 s) and pinging so idle proxies keep it; `onOpen` runs on each (re)connect so the caller can
 * fetch what it missed.
 */
export function keepSocket(url: string, onEvent: (e: ChatEvent) => void, onOpen: () => void): { stop(): void } {
  let ws: WebSocket | null = null
  let tries = 0
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const ping = setInterval(() => ws?.readyState === WebSocket.OPEN && ws.send('ping'), 50_000)
  const retry = () => {
    if (!stopped) timer = setTimeout(connect, Math.min(1000 * 2 ** tries++, 30_000))
  }
  function connect(): void {
    try {
      ws = new WebSocket(url)
    } catch {
      retry()
      return
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
    ws.onclose = retry
  }
  connect()
  return {
    stop() {
      stopped = true
      clearTimeout(timer)
      clearInterval(ping)
      if (ws) {
        ws.onclose = null
        ws.close()
      }
    },
  }
}
