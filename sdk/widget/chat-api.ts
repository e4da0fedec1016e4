/**
 * The widget's client for the chat endpoints (`/v1/widget/...`): REST calls naming the site by its
 * publishable key (X-MLC-Site-Key) and the visitor by the anonymous id the session was opened
 * with, and the session's WebSocket with reconnection. Every call answers the envelope's `data`
 * or throws a ChatApiError with the server's message and status. A call that meets a network
 * error, a 5xx, a 429 or a request still in flight is tried again a few times; each POST carries
 * one Idempotency-Key for all its attempts, so a retry of a message the server did take answers
 * what it answered then instead of sending the message twice.
 */
import { uid } from '../src/ids'
import { PATHS, RETRY_AFTER_HEADER, SENT_HEADERS, SITE_KEY_HEADER } from '../src/protocol'

/** Attempts of one call before its error is shown. */
const ATTEMPTS = 3
/** Longest wait between two attempts, whatever Retry-After says (the visitor is watching). */
const MAX_WAIT_MS = 8000

/** Worth another attempt: the server failed or asks to wait (429, or 409 with Retry-After: the same key still running). */
const retryable = (res: Response) => res.status > 499 || res.status === 429 || (res.status === 409 && res.headers.has(RETRY_AFTER_HEADER))

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

/** The envelope's `data`, or a ChatApiError with the server's message. */
async function dataOf<T>(res: Response): Promise<T> {
  let json: { ok?: boolean; data?: T; error?: { message?: string } } = {}
  try {
    json = await res.json()
  } catch {}
  if (!res.ok || !json.ok) throw new ChatApiError(json.error?.message || `HTTP ${res.status}`, res.status)
  return json.data as T
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
    const post = method === 'POST'
    // One key for every attempt of this call: the attempts are one logical request.
    const headers: Record<string, string> = post
      ? { [SITE_KEY_HEADER]: this.siteKey, [SENT_HEADERS.type]: 'application/json', [SENT_HEADERS.idem]: uid() }
      : { [SITE_KEY_HEADER]: this.siteKey }
    const payload = post ? JSON.stringify({ anon_id: this.anonId, ...body }) : undefined
    for (let attempt = 1; ; attempt++) {
      let res: Response | null = null
      try {
        res = await fetch(url, { method, headers, body: payload })
      } catch (err) {
        if (attempt >= ATTEMPTS) throw err
      }
      if (res && (!retryable(res) || attempt >= ATTEMPTS)) return dataOf<T>(res)
      const asked = Number(res?.headers.get(RETRY_AFTER_HEADER)) * 1000
      await new Promise((r) => setTimeout(r, Math.min(asked || 1000 * 2 ** (attempt - 1), MAX_WAIT_MS)))
    }
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
