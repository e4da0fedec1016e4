/**
 * The MyLiveChat chat widget, loaded lazily by the visitor SDK after boot. It renders a launcher
 * and a chat panel inside a Shadow DOM attached to `#mylivechat-widget`, whose `data-visible` and
 * `data-open` attributes (set by the SDK's show/hide/open/close) drive what is shown. The visitor
 * chats with the bot, can ask for a human, receives agent replies live over a WebSocket, and rates
 * the chat when it closes. The open chat survives page loads (`mlc:chat`) until it is rated,
 * dismissed or the SDK resets.
 */
import { CHAT_KEY, HOST_ID } from '../src/protocol'
import { drop, load, save } from '../src/storage'
import { ChatApi, type ChatEvent, type ChatMessage, keepSocket } from './chat-api'
import { WIDGET_CSS } from './styles'

type Sdk = (command: string, ...args: unknown[]) => unknown
/** What the SDK tells the widget (`mylivechat('_widget')`). */
interface WidgetContext {
  base: string
  siteKey: string
  nonce: string
  anonId: string
  key?: string
  token?: string
}
/** What `mlc:chat` keeps of the open chat: its id, socket URL, the anonymous id it was opened with. */
interface StoredChat {
  id?: string
  ws?: string
  anon?: string
  starters?: { prompt: string }[]
  status?: string
  rated?: boolean
}

const STATUS_TEXT: Record<string, string> = {
  bot: 'Our assistant replies right away',
  waiting_human: 'Waiting for a person to join…',
  human: 'You are chatting with our team',
  closed: 'This chat has ended',
}
const ROLE_LABEL: Record<string, string> = { visitor: 'You', ai: 'Assistant', agent: 'Agent', system: '' }
const CHAT_ICON = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z'
const CLOSE_ICON = 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z'

/** Creates an element with attributes and children (text children become text nodes, never HTML). */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== false) el.setAttribute(k, v === true ? '' : v)
  el.append(...children)
  return el
}

function icon(path: string): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(ns, 'svg')
  svg.setAttribute('viewBox', '0 0 24 24')
  svg.setAttribute('aria-hidden', 'true')
  const p = document.createElementNS(ns, 'path')
  p.setAttribute('d', path)
  svg.append(p)
  return svg
}

function start(): void {
  const found = (window as unknown as { mylivechat?: Sdk }).mylivechat
  const host = document.getElementById(HOST_ID)
  if (!found || !host || host.shadowRoot) return
  const sdk: Sdk = found
  const ctx = sdk('_widget') as WidgetContext
  // Calls carry the anonymous id the chat was opened with, even after a later identify.
  const api = () => new ChatApi(ctx.base, ctx.siteKey, chat.anon ?? ctx.anonId)
  const root = host.attachShadow({ mode: 'open' })

  const style = h('style', ctx.nonce ? { nonce: ctx.nonce } : {}, WIDGET_CSS)
  const launcherIcon = icon(CHAT_ICON)
  const launcher = h('button', { type: 'button', class: 'launcher', 'aria-label': 'Open chat', 'aria-expanded': 'false' }, launcherIcon)
  const statusLine = h('p', { class: 'status' }, STATUS_TEXT.bot as string)
  const humanBtn = h('button', { type: 'button', class: 'human' }, 'Talk to a human')
  const endBtn = h('button', { type: 'button', class: 'end' }, 'End chat')
  const minimize = h('button', { type: 'button', class: 'minimize', 'aria-label': 'Minimize chat' }, '✕')
  const log = h('ol', { class: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' })
  const starters = h('div', { class: 'starters', role: 'group', 'aria-label': 'Suggested questions' })
  const input = h('textarea', { name: 'text', rows: '1', 'aria-label': 'Message', placeholder: 'Type your message…', maxlength: '4000' })
  const sendBtn = h('button', { type: 'submit' }, 'Send')
  const composer = h('form', { class: 'composer' }, input, sendBtn)
  const stars = h('div', { class: 'stars', role: 'radiogroup', 'aria-label': 'Rating from 1 to 5 stars' })
  const comment = h('textarea', { name: 'comment', 'aria-label': 'Comment (optional)', placeholder: 'Anything to add? (optional)', maxlength: '2000' })
  const rateBtn = h('button', { type: 'submit', disabled: true }, 'Send rating')
  const rateError = h('p', { class: 'error', role: 'alert' })
  const rating = h('form', { class: 'rating', hidden: true }, h('fieldset', {}, h('legend', {}, 'How was this chat?'), stars), comment, rateBtn, rateError)
  const newChat = h('button', { type: 'button', class: 'new-chat' }, 'Start a new chat')
  const thanks = h('div', { class: 'thanks', hidden: true, role: 'status' }, h('p', {}, 'Thanks for your feedback!'), newChat)
  const panel = h(
    'section',
    { class: 'panel', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'mlc-title' },
    h('header', {}, h('div', { class: 'titles' }, h('h2', { id: 'mlc-title' }, 'Chat with us'), statusLine), humanBtn, endBtn, minimize),
    h('p', { class: 'intro' }, 'Hi! Ask us anything: our assistant answers right away, and a person takes over whenever you ask.'),
    log,
    starters,
    composer,
    rating,
    thanks,
  )
  root.append(style, launcher, panel)

  let chat = load<StoredChat>(CHAT_KEY, {})
  let socket: { stop(): void } | null = null
  let lastId = 0
  let chosen = 0
  let opening: Promise<void> | null = null
  // Bumped when the chat is dropped: an answer that arrives later belongs to the dropped chat and
  // must not repaint the new one (the other awaits compare the chat id they asked about).
  let epoch = 0
  const seen = new Set<number>()

  const persist = () => save(CHAT_KEY, chat)
  const scrollDown = () => {
    log.scrollTop = log.scrollHeight
  }

  function addMessage(m: ChatMessage): void {
    if (seen.has(m.id)) return
    seen.add(m.id)
    lastId = Math.max(lastId, m.id)
    if (m.role === 'visitor') {
      // Our own message coming back: adopt the optimistic copy instead of showing it twice.
      const mine = Array.from(log.querySelectorAll('.msg.visitor.pending')).find((el) => el.getAttribute('data-text') === m.text)
      if (mine) {
        mine.classList.remove('pending')
        mine.setAttribute('data-id', String(m.id))
        return
      }
    }
    const label = m.role === 'agent' && m.author ? m.author : ROLE_LABEL[m.role]
    log.append(h('li', { class: `msg ${m.role}`, 'data-id': String(m.id) }, ...(label ? [h('span', { class: 'who' }, label)] : []), m.text))
    scrollDown()
  }

  function setStatus(status: string): void {
    chat.status = status
    if (chat.id) persist()
    statusLine.textContent = STATUS_TEXT[status] ?? status
    humanBtn.hidden = status !== 'bot'
    const closed = status === 'closed'
    endBtn.hidden = closed || !chat.id
    composer.hidden = closed
    rating.hidden = !closed || !!chat.rated
    thanks.hidden = !closed || !chat.rated
    if (closed) {
      starters.replaceChildren()
      socket?.stop()
      socket = null
    }
  }

  function showStarters(list: { prompt: string }[] = []): void {
    starters.replaceChildren(
      ...(log.querySelector('.msg.visitor') ? [] : list).map(({ prompt }) => {
        const b = h('button', { type: 'button' }, prompt)
        b.addEventListener('click', () => send(prompt))
        return b
      }),
    )
  }

  function applyEvent(e: ChatEvent): void {
    if (e.type === 'message') addMessage(e.message)
    // The server may have missed events from another instance (docs/chat.md): while it did, newer
    // ones of its own may have arrived, so the whole chat is re-read, not only what follows them.
    else if (e.type === 'resync') sync(0).catch(() => {})
    else if (e.status) setStatus(e.status)
  }

  /**
   * Fetches every message after id `from` (by default the last one shown: after a reconnect, or a
   * restored chat); messages already shown are skipped.
   */
  async function sync(from = lastId): Promise<void> {
    const id = chat.id
    let after = from
    for (let more = true; more && id; ) {
      const page = await api().messages(id, after)
      if (chat.id !== id) return
      for (const m of page.messages) {
        addMessage(m)
        after = Math.max(after, m.id)
      }
      setStatus(page.status)
      more = page.has_more && page.messages.length > 0
    }
  }

  function listen(): void {
    if (socket || !chat.ws || chat.status === 'closed') return
    socket = keepSocket(chat.ws, applyEvent, () => {
      sync().catch(() => {})
    })
  }

  function note(text: string): void {
    log.append(h('li', { class: 'msg system' }, text))
    scrollDown()
  }

  /** Opens a session if there is none, or picks up the stored one. */
  function ensureSession(): Promise<void> {
    const started = epoch
    opening ??= (async () => {
      if (chat.id) {
        try {
          await sync()
          setStatus(chat.status ?? 'bot')
          showStarters(chat.starters)
          listen()
          return
        } catch {
          // Unknown or foreign session (server reset, other visitor): start afresh.
          chat = {}
        }
      }
      const now = sdk('_widget') as WidgetContext
      chat = { anon: now.anonId }
      const opened = await api().open(now.key, now.token)
      if (epoch !== started) return
      chat = { ...chat, id: opened.session_id, ws: opened.ws_url, starters: opened.starters, status: opened.status }
      persist()
      setStatus(chat.status as string)
      showStarters(chat.starters)
      listen()
    })().catch((err) => {
      opening = null
      note(`The chat is unavailable right now (${(err as Error).message}).`)
    })
    return opening
  }

  async function send(text: string): Promise<void> {
    text = text.trim()
    if (!text) return
    await ensureSession()
    const id = chat.id
    if (!id) return
    starters.replaceChildren()
    const mine = h('li', { class: 'msg visitor pending', 'data-text': text }, h('span', { class: 'who' }, 'You'), text)
    log.append(mine)
    scrollDown()
    try {
      const res = await api().send(id, text)
      if (chat.id !== id) return
      // The answer carries the stored message and the bot's reply; the socket may have shown them already.
      addMessage(res.message)
      if (res.reply) addMessage(res.reply)
      setStatus(res.status)
      mine.classList.remove('pending')
    } catch (err) {
      mine.classList.replace('pending', 'failed')
      if (chat.id === id) note(`Not sent: ${(err as Error).message}`)
    }
  }

  function render(): void {
    const open = host?.dataset.open === 'true'
    launcher.setAttribute('aria-expanded', String(open))
    launcher.setAttribute('aria-label', open ? 'Close chat' : 'Open chat')
    launcher.replaceChildren(icon(open ? CLOSE_ICON : CHAT_ICON))
    if (open) {
      ensureSession()
      setTimeout(() => (composer.hidden ? stars.querySelector('button') : input)?.focus(), 0)
    }
  }

  for (let n = 1; n <= 5; n++) {
    const b = h(
      'button',
      { type: 'button', role: 'radio', 'aria-checked': 'false', 'aria-label': `${n} star${n > 1 ? 's' : ''}`, 'data-rating': String(n) },
      '★',
    )
    b.addEventListener('click', () => {
      chosen = n
      for (const s of Array.from(stars.children)) {
        const r = Number(s.getAttribute('data-rating'))
        s.setAttribute('aria-checked', String(r === n))
        s.classList.toggle('lit', r <= n)
      }
      rateBtn.disabled = false
    })
    stars.append(b)
  }

  launcher.addEventListener('click', () => sdk(host.dataset.open === 'true' ? 'close' : 'open'))
  minimize.addEventListener('click', () => {
    sdk('close')
    launcher.focus()
  })
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      sdk('close')
      launcher.focus()
    }
  })
  composer.addEventListener('submit', (e) => {
    e.preventDefault()
    const text = input.value
    input.value = ''
    send(text)
  })
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault()
      composer.requestSubmit()
    }
  })
  humanBtn.addEventListener('click', async () => {
    await ensureSession()
    const id = chat.id
    if (!id) return
    try {
      const { status } = await api().handoff(id)
      if (chat.id !== id) return
      setStatus(status)
      await sync()
    } catch (err) {
      note(`Could not reach a human: ${(err as Error).message}`)
    }
  })
  endBtn.addEventListener('click', async () => {
    const id = chat.id
    if (!id) return
    try {
      const { status } = await api().close(id)
      if (chat.id === id) setStatus(status)
    } catch (err) {
      note(`Could not end the chat: ${(err as Error).message}`)
    }
  })
  rating.addEventListener('submit', async (e) => {
    e.preventDefault()
    const id = chat.id
    if (!id || !chosen) return
    rateBtn.disabled = true
    rateError.textContent = ''
    try {
      await api().feedback(id, chosen, comment.value.trim() || undefined)
      if (chat.id !== id) return
      chat.rated = true
    } catch (err) {
      // 409: already rated (another tab); anything else can be tried again.
      if ((err as { status?: number }).status === 409) chat.rated = true
      else {
        rateError.textContent = `Not sent: ${(err as Error).message}`
        rateBtn.disabled = false
      }
    }
    setStatus('closed')
    if (chat.rated) newChat.focus()
  })
  newChat.addEventListener('click', () => forget(true))
  host.addEventListener('mlc:reset', () => forget(false))

  /** Drops the chat (after rating, or on the SDK's reset); optionally opens a new one at once. */
  function forget(reopen: boolean): void {
    epoch++
    socket?.stop()
    socket = null
    drop(CHAT_KEY)
    chat = {}
    opening = null
    lastId = 0
    chosen = 0
    seen.clear()
    log.replaceChildren()
    starters.replaceChildren()
    comment.value = ''
    for (const s of Array.from(stars.children)) {
      s.setAttribute('aria-checked', 'false')
      s.classList.remove('lit')
    }
    rateBtn.disabled = true
    setStatus('bot')
    if (reopen) ensureSession().then(() => input.focus())
  }

  new MutationObserver(render).observe(host, { attributes: true, attributeFilter: ['data-open', 'data-visible'] })
  setStatus(chat.status ?? 'bot')
  // A chat left open on the previous page keeps receiving messages.
  if (chat.id) ensureSession()
  render()
}

start()
