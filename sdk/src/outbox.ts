/**
 * The persisted outbox: every request is written to `mlc:outbox` before it is sent and removed
 * once the server has answered, so a failed send (offline, 5xx, 429, page closed mid-flight) is
 * retried on this page or the next one. Retries back off exponentially with jitter; a 429 holds
 * every send until its Retry-After. Every attempt of one request carries its id as the
 * Idempotency-Key, so a retry of a request the server did handle answers the stored response and
 * changes nothing (event ids make track replays harmless on their own too).
 */

import { uid } from './ids'
import { OUTBOX_KEY, OUTBOX_MAX, OUTBOX_TRIES, RETRY_AFTER_HEADER, SENT_HEADERS } from './protocol'
import { load, save } from './storage'

/** One waiting request: id, path, body, attempts so far, earliest next attempt (ms). */
interface Item {
  id: string
  p: string
  b: object
  n: number
  at: number
}

let base = ''
let credential = ''
let holdUntil = 0
let timer: ReturnType<typeof setTimeout> | undefined
const inFlight: Record<string, 1> = {}

const items = () => load<Item[]>(OUTBOX_KEY, [])

/** Exponential backoff from 1 s to 5 min, with jitter so many pages do not retry in step. */
const backoff = (n: number) => Math.min(1000 * 2 ** n, 300_000) * (0.5 + Math.random() / 2)

/** Starts sending to `apiBase` with `key` (called by boot); sends what earlier pages left. */
export function startOutbox(apiBase: string, key: string): void {
  base = apiBase
  credential = key
  flushOutbox()
}

/** Queues a POST and sends it at once when booted and not held back. `unload`: the page is going away. */
export function post(path: string, body: object, unload?: boolean): void {
  const item: Item = { id: uid(), p: path, b: body, n: 0, at: 0 }
  const list = items()
  list.push(item)
  save(OUTBOX_KEY, list.slice(-OUTBOX_MAX))
  attempt(item, unload)
}

/** Tries every due request. */
export function flushOutbox(): void {
  for (const item of items().slice()) attempt(item)
}

function schedule(): void {
  clearTimeout(timer)
  let next = Number.POSITIVE_INFINITY
  for (const item of items()) if (!inFlight[item.id]) next = Math.min(next, Math.max(item.at, holdUntil))
  if (base && next < Number.POSITIVE_INFINITY) timer = setTimeout(flushOutbox, Math.max(0, next - Date.now()))
}

function settle(id: string, retryMs: number): void {
  const list = items()
  const i = list.findIndex((x) => x.id === id)
  const item = list[i]
  if (!item) return // reset() wiped it meanwhile
  if (retryMs && ++item.n < OUTBOX_TRIES) item.at = Date.now() + retryMs
  else list.splice(i, 1)
  save(OUTBOX_KEY, list)
}

async function attempt(item: Item, unload?: boolean): Promise<void> {
  const now = Date.now()
  if (!base || inFlight[item.id] || now < holdUntil || now < item.at) return schedule()
  inFlight[item.id] = 1
  const url = base + item.p
  const body = JSON.stringify(item.b)
  let retry = 0
  try {
    const res = await fetch(url, {
      method: 'POST',
      keepalive: true,
      headers: { [SENT_HEADERS.auth]: `Bearer ${credential}`, [SENT_HEADERS.type]: 'application/json', [SENT_HEADERS.idem]: item.id },
      body,
    })
    const status = res.status
    if (status === 429 || status > 499) {
      retry = Number(res.headers.get(RETRY_AFTER_HEADER)) * 1000 || backoff(item.n)
      if (status === 429) holdUntil = Date.now() + retry
    } else if (status > 299) {
      // Bad input or a refused identity never succeeds on retry: say why once and drop it.
      res.json().then(
        (j) => console.warn('mylivechat:', j.error.message),
        () => {},
      )
    }
  } catch {
    // fetch refused (keepalive quota, unloading): a beacon cannot carry headers, so the key rides in the URL.
    retry = unload && navigator.sendBeacon?.(`${url}?token=${encodeURIComponent(credential)}`, body) ? 0 : backoff(item.n)
  }
  delete inFlight[item.id]
  settle(item.id, retry)
  schedule()
}

addEventListener('online', flushOutbox)
