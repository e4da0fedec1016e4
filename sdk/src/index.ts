/**
 * The MyLiveChat visitor SDK: `window.mylivechat(command, ...args)`.
 * Calls made before this file loads wait in `window.mylivechat.q` and run here in order.
 * No dependencies, no eval, nothing styled outside the widget's Shadow DOM; anything injected
 * carries the nonce of the script tag that loaded this file, so it runs under a strict CSP.
 */
import { uid } from './ids'
import { post, startOutbox } from './outbox'
import { CHAT_KEY, EVENTS_KEPT, EVENTS_KEY, HOST_ID, IDENTIFY_DEBOUNCE_MS, IDENTITY_KEY, OUTBOX_KEY, PATHS, WIDGET_FILE } from './protocol'
import { drop, load, save } from './storage'

/** Content hash of the widget build, so its URL can be cached for good (set by scripts/build-sdk.ts). */
declare const MLC_WIDGET_VERSION: string

type Attrs = Record<string, unknown>
interface Identity {
  anon_id: string
  key?: string
  attributes: Attrs
}
interface BootOptions {
  siteKey?: string
  apiToken?: string
  apiUrl?: string
  widget?: boolean
  identityToken?: string
}
type Api = ((command: string, ...args: unknown[]) => unknown) & { q?: ArrayLike<unknown>[]; v?: 1 }

const win = window as unknown as { mylivechat?: Api }
const doc = document
const script = doc.currentScript as HTMLScriptElement | null
const nonce = script?.nonce || ''
const scriptOrigin = script?.src ? new URL(script.src).origin : location.origin

let base = ''
let siteKey = ''
let identityToken: string | undefined
let pending: Attrs | null = null
let timer: ReturnType<typeof setTimeout> | undefined
let visible = true
let open = false
let host: HTMLElement | null = null

const warn = (m: unknown) => console.warn('mylivechat:', m)

/** The stored identity, created with a fresh anonymous id when there is none. */
function identity(): Identity {
  const id = load<Identity>(IDENTITY_KEY, {} as Identity)
  if (!id.anon_id) {
    id.anon_id = uid()
    save(IDENTITY_KEY, id)
  }
  id.attributes ||= {}
  return id
}

/** Who the server should attribute a request to: the key once known, else the anonymous id. */
function who(): Attrs {
  const id = identity()
  return id.key ? { key: id.key } : { anonymous_id: id.anon_id }
}

const withToken = (body: Attrs) => (identityToken ? { ...body, identity_token: identityToken } : body)

/** Sends the attributes gathered since the last send as one `visitors` upsert. */
function flushIdentify(unload?: boolean): void {
  clearTimeout(timer)
  timer = undefined
  if (pending) post(PATHS.visitors, withToken({ ...pending, ...who() }), unload)
  pending = null
}

function identify(input: unknown) {
  if (!input || typeof input !== 'object') return warn('identify needs an object')
  const attrs: Attrs = { ...input }
  const token = attrs.identityToken ?? attrs.identity_token
  const key = attrs.user_id ?? attrs.key
  for (const k of ['identityToken', 'identity_token', 'user_id', 'key']) delete attrs[k]
  if (typeof token === 'string') identityToken = token
  const id = identity()
  if (key != null && String(key) !== id.key) {
    if (id.key) {
      // Another user without reset(): finish the old one's update, start clean.
      flushIdentify()
      id.attributes = {}
    } else {
      // First identify after anonymous browsing: the server merges the anonymous visitor into the key.
      pending = { ...pending, anonymous_id: id.anon_id }
    }
    id.key = String(key)
  }
  for (const k in attrs) {
    if (attrs[k] === null) delete id.attributes[k]
    else id.attributes[k] = attrs[k]
  }
  pending = { ...pending, ...attrs }
  save(IDENTITY_KEY, id)
  timer ||= setTimeout(flushIdentify, IDENTIFY_DEBOUNCE_MS)
}

function track(name: unknown, properties?: unknown) {
  if (typeof name !== 'string' || !name) return warn('track needs an event name')
  flushIdentify()
  const event = {
    event_id: uid(),
    name,
    properties: properties && typeof properties === 'object' ? properties : {},
    timestamp: new Date().toISOString(),
  }
  const ring = load<unknown[]>(EVENTS_KEY, [])
  ring.push(event)
  save(EVENTS_KEY, ring.slice(-EVENTS_KEPT))
  post(PATHS.track, withToken({ ...who(), ...event }))
}

/** Mirrors launcher and panel state onto the host element, where the widget (and CSS, tests) read it. */
function render(): void {
  if (!host) return
  host.dataset.visible = `${visible}`
  host.dataset.open = `${open}`
}

function mountWidget(): void {
  host = doc.getElementById(HOST_ID)
  if (!host) {
    host = doc.createElement('div')
    host.id = HOST_ID
    doc.body.appendChild(host)
  }
  render()
  const s = doc.createElement('script')
  s.src = `${base + WIDGET_FILE}?v=${MLC_WIDGET_VERSION}`
  s.async = true
  if (nonce) s.nonce = nonce
  doc.head.appendChild(s)
}

function boot(options?: BootOptions) {
  if (base) return
  const o = options || {}
  const key = o.siteKey || o.apiToken
  if (!key) return warn('boot needs siteKey (pk_...)')
  // apiUrl may be the server root, its /v1, or the legacy /v1/api.ashx endpoint.
  base = (o.apiUrl || scriptOrigin).replace(/\/+(v1(\/api\.ashx)?\/?)?$/, '')
  siteKey = o.siteKey || ''
  if (o.identityToken) identityToken = o.identityToken
  startOutbox(base, key)
  if (o.widget === false) return
  if (!siteKey) return warn('the chat widget needs siteKey')
  if (doc.body) mountWidget()
  else doc.addEventListener('DOMContentLoaded', mountWidget)
}

function reset(): void {
  clearTimeout(timer)
  timer = undefined
  pending = null
  identityToken = undefined
  for (const k of [IDENTITY_KEY, EVENTS_KEY, OUTBOX_KEY, CHAT_KEY]) drop(k)
  identity()
  open = false
  render()
  host?.dispatchEvent(new Event('mlc:reset'))
}

/** A copy of what the SDK holds, for debugging and tests. */
function state(): unknown {
  const id = identity()
  return JSON.parse(
    JSON.stringify({
      booted: !!base,
      anon_id: id.anon_id,
      key: id.key ?? null,
      attributes: id.attributes,
      pending,
      events: load(EVENTS_KEY, []),
      outbox: load(OUTBOX_KEY, []).length,
      visible,
      open,
    }),
  )
}

const setView = (v: boolean, o: boolean) => () => {
  visible = v
  open = o
  render()
}

const commands: Record<string, (...args: any[]) => unknown> = {
  boot,
  identify,
  update: identify,
  track,
  show: () => setView(true, open)(),
  hide: setView(false, false),
  open: setView(true, true),
  close: () => setView(visible, false)(),
  reset,
  state,
  // For the widget: where to talk to and as whom.
  _widget: () => ({ base, siteKey, nonce, anonId: identity().anon_id, key: identity().key, token: identityToken }),
}

function call(command: string, ...args: unknown[]): unknown {
  const f = commands[command]
  if (!f) return warn(`unknown command ${command}`)
  try {
    return f(...args)
  } catch (e) {
    // The host page must never break because of us.
    warn(e)
  }
}

if (!win.mylivechat?.v) {
  const queued = win.mylivechat?.q || []
  const api: Api = call
  api.v = 1
  win.mylivechat = api
  for (const args of Array.from(queued)) call(...(Array.from(args) as [string]))
  const leave = () => flushIdentify(true)
  addEventListener('pagehide', leave)
  doc.addEventListener('visibilitychange', () => doc.visibilityState === 'hidden' && leave())
}
