/**
 * The delivery worker: runs in its own thread with its own SQLite connection. It claims due rows
 * with a lease (longer than the timeout), signs and sends them with bounded concurrency (globally
 * and per subscription), records each attempt with the delivery's next state in batches, and
 * sleeps until the next due retry unless woken by the request thread. Imports no HTTP or module code.
 */
import type { Database } from 'bun:sqlite'
import { type Clock, systemClock } from '../clock'
import { openDatabase } from '../db/open'
import { type AttemptRecord, createWebhookRepo, type WebhookRepo } from '../db/webhooks'
import { VERSION } from '../version'
import { nextAttemptMs } from './backoff'
import type { AttemptSummary, FromWorker, ToWorker, WorkerSettings } from './protocol'
import { sendOnce } from './send'
import { deliveryHeaders } from './sign'

declare const self: Worker

const USER_AGENT = `mlc-webhooks/${VERSION}`

interface InFlight {
  seq: number
  subscriptionId: number
  abort: AbortController
}

interface Finished {
  record: AttemptRecord
  deliveryId: string
  subscriptionId: number
  gone: boolean
}

/** The worker's state machine; exported for the thread entry below (and nothing else). */
export function createDeliveryLoop(settings: WorkerSettings, post: (msg: FromWorker) => void) {
  let manualNow = settings.manualNowMs
  const clock: Clock = manualNow === null ? systemClock : { now: () => manualNow as number }
  const db: Database = openDatabase(settings.dbPath)
  const repo: WebhookRepo = createWebhookRepo(db)
  const inFlight = new Map<number, InFlight>()
  const perSubscription = new Map<number, number>()
  const watched = new Set<string>()
  let finished: Finished[] = []
  let flushScheduled = false
  let timer: ReturnType<typeof setTimeout> | null = null
  let stopping = false
  let closed = false
  let onDrained: (() => void) | null = null

  const log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => post({ type: 'log', level, msg, fields })

  function release(subscriptionId: number, seq: number) {
    inFlight.delete(seq)
    const n = (perSubscription.get(subscriptionId) ?? 1) - 1
    if (n <= 0) perSubscription.delete(subscriptionId)
    else perSubscription.set(subscriptionId, n)
  }

  /** Claims as many due rows as the limits allow and starts sending them. */
  function pump() {
    if (stopping) return
    if (timer) clearTimeout(timer)
    timer = null
    const now = clock.now()
    try {
      for (;;) {
        const free = settings.concurrency - inFlight.size
        if (free <= 0) break
        const saturated = [...perSubscription].filter(([, n]) => n >= settings.perSubscription).map(([id]) => id)
        const counts = new Map(perSubscription)
        let budget = free
        const rows = repo.claimDue(now, now + settings.leaseMs, Math.min(256, free * 2), saturated, (sub) => {
          const n = counts.get(sub) ?? 0
          if (budget <= 0 || n >= settings.perSubscription) return false
          counts.set(sub, n + 1)
          budget--
          return true
        })
        if (rows.length === 0) break
        for (const row of rows) start(row.seq, row.subscription_id)
      }
    } catch (err) {
      log('error', 'webhook claim failed; retrying shortly', { error: String(err) })
      schedule(now + 1000, now)
      return
    }
    if (inFlight.size < settings.concurrency) {
      let next: number | null = null
      try {
        next = repo.nextWakeMs(now)
      } catch (err) {
        log('error', 'webhook schedule read failed', { error: String(err) })
        next = now + 1000
      }
      schedule(next, now)
    }
  }

  /** Sleeps until `atMs` (capped by the idle check); a manual clock only moves on messages. */
  function schedule(atMs: number | null, now: number) {
    if (manualNow !== null || stopping) return
    const delay = atMs === null ? settings.idleCheckMs : Math.min(Math.max(0, atMs - now), settings.idleCheckMs)
    timer = setTimeout(pump, delay)
  }

  function start(seq: number, subscriptionId: number) {
    const job: InFlight = { seq, subscriptionId, abort: new AbortController() }
    inFlight.set(seq, job)
    perSubscription.set(subscriptionId, (perSubscription.get(subscriptionId) ?? 0) + 1)
    attempt(job).catch((err) => {
      log('error', 'webhook attempt crashed', { error: String(err) })
      release(subscriptionId, seq)
      // The lease is left to expire so the row is tried again.
    })
  }

  async function attempt(job: InFlight) {
    const row = repo.sendable(job.seq)
    if (!row) {
      // Deleted with its subscription while queued.
      release(job.subscriptionId, job.seq)
      scheduleFlush()
      return
    }
    const at = clock.now()
    if (!row.active) {
      repo.deadLetter(job.seq, 'subscription inactive', at)
      release(job.subscriptionId, job.seq)
      scheduleFlush()
      return
    }
    const previous = row.previous_secret && (row.previous_secret_until_ms ?? 0) > at ? row.previous_secret : null
    const headers = deliveryHeaders(
      {
        deliveryId: row.id,
        eventId: row.event_id,
        event: row.event,
        body: row.body,
        timestampSeconds: Math.floor(at / 1000),
        secret: row.secret,
        previousSecret: previous,
      },
      USER_AGENT,
    )
    const res = await sendOnce({
      url: row.url,
      body: row.body,
      headers,
      timeoutMs: settings.timeoutMs,
      allowPrivate: settings.allowPrivate,
      nowMs: at,
      signal: job.abort.signal,
    })
    if (closed) return
    if (res.aborted) {
      // Shutdown: hand the row back without counting an attempt.
      repo.releaseLease(job.seq)
      release(job.subscriptionId, job.seq)
      scheduleFlush()
      return
    }
    const number = row.attempts + 1
    const done = clock.now()
    const succeeded = res.error === null
    const gone = res.statusCode === 410
    const next = succeeded || gone ? null : nextAttemptMs(number, settings.backoffSeconds, done, res.retryAfterSeconds)
    finished.push({
      deliveryId: row.id,
      subscriptionId: row.subscription_id,
      gone,
      record: {
        seq: row.seq,
        number,
        url: row.url,
        atMs: at,
        durationMs: res.durationMs,
        statusCode: res.statusCode,
        error: res.error,
        errorMessage: res.errorMessage,
        requestHeaders: JSON.stringify(res.sentHeaders),
        responseBody: res.responseBody,
        status: succeeded ? 'succeeded' : next === null ? 'dead' : 'failed',
        nextAttemptMs: next,
      },
    })
    scheduleFlush()
  }

  function scheduleFlush() {
    if (flushScheduled) return
    flushScheduled = true
    setImmediate(flush)
  }

  /** Writes finished attempts in one transaction, then frees their slots and claims more. */
  function flush() {
    flushScheduled = false
    if (closed) return
    writeFinished()
    if (stopping) {
      if (inFlight.size === 0) onDrained?.()
      return
    }
    pump()
  }

  function writeFinished() {
    const batch = finished
    finished = []
    if (batch.length === 0) return
    const now = clock.now()
    try {
      repo.recordAttempts(
        batch.map((f) => f.record),
        now,
      )
      for (const f of batch.filter((b) => b.gone)) {
        if (repo.disableSubscription(f.subscriptionId, 'gone', now)) {
          const n = repo.deadLetterPending(f.subscriptionId, 'subscription deactivated: the endpoint answered 410 Gone', now)
          log('warn', 'webhook subscription deactivated: endpoint answered 410 Gone', { subscription_id: f.subscriptionId, dead_lettered: n })
        }
      }
    } catch (err) {
      // The leases expire and the rows are sent again: at least once, never lost.
      log('error', 'webhook attempt results could not be written; they will be retried', { error: String(err), count: batch.length })
    }
    for (const f of batch) {
      release(f.subscriptionId, f.record.seq)
      if (f.record.status === 'dead') log('warn', 'webhook delivery dead-lettered', { delivery_id: f.deliveryId, attempts: f.record.number })
      if (watched.delete(f.deliveryId)) post({ type: 'attempted', deliveryId: f.deliveryId, attempt: summary(f.record) })
    }
  }

  function summary(r: AttemptRecord): AttemptSummary {
    return {
      number: r.number,
      at_ms: r.atMs,
      duration_ms: r.durationMs,
      status_code: r.statusCode,
      error: r.error as AttemptSummary['error'],
      error_message: r.errorMessage,
      status: r.status,
      next_attempt_ms: r.nextAttemptMs,
    }
  }

  /** Stops claiming; waits up to `graceMs` for attempts in flight, then aborts and hands back the rest. */
  async function stop(graceMs: number): Promise<number> {
    stopping = true
    if (timer) clearTimeout(timer)
    const before = inFlight.size
    if (inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        onDrained = resolve
        setTimeout(resolve, graceMs)
      })
    }
    writeFinished()
    const handedBack = inFlight.size
    // Aborted attempts give their rows back themselves (no attempt is counted).
    for (const job of inFlight.values()) job.abort.abort()
    for (let i = 0; i < 100 && inFlight.size > 0; i++) await Bun.sleep(10)
    writeFinished()
    for (const job of inFlight.values()) repo.releaseLease(job.seq)
    closed = true
    db.close()
    if (before > 0) log('info', 'webhook worker stopped', { finished: before - handedBack, handed_back: handedBack })
    return handedBack
  }

  return {
    /** Handles one message from the request thread. */
    async receive(msg: ToWorker) {
      switch (msg.type) {
        case 'wake':
          if (manualNow !== null && msg.nowMs !== undefined) manualNow = msg.nowMs
          pump()
          return
        case 'watch':
          watched.add(msg.deliveryId)
          return
        case 'ping':
          post({ type: 'pong' })
          return
        case 'stop':
          post({ type: 'stopped', handedBack: await stop(msg.graceMs) })
          return
        case 'init':
          return
      }
    },
    pump,
  }
}

// Thread entry: the first message carries the settings.
if (!Bun.isMainThread) {
  let loop: ReturnType<typeof createDeliveryLoop> | null = null
  const post = (msg: FromWorker) => self.postMessage(msg)
  self.onmessage = (e: MessageEvent<ToWorker>) => {
    const msg = e.data
    if (msg.type === 'init') {
      loop = createDeliveryLoop(msg.settings, post)
      post({ type: 'ready' })
      loop.pump()
      return
    }
    loop?.receive(msg)
  }
}
