/**
 * The delivery worker: runs in its own thread with its own SQLite connection. It claims due rows
 * with a lease (longer than the timeout), signs and sends them with bounded concurrency (globally
 * and per subscription), records finished attempts and claims the next rows in one commit, and
 * sleeps until the next due retry unless woken by the request thread. Imports no HTTP or module code.
 */
import type { Database } from 'bun:sqlite'
import { type Clock, systemClock } from '../clock'
import { openDatabase } from '../db/open'
import { type AttemptRecord, createWebhookRepo, type SendableRow, type WebhookRepo } from '../db/webhooks'
import { VERSION } from '../version'
import { nextAttemptMs } from './backoff'
import type { AttemptSummary, FromWorker, ToWorker, WorkerSettings } from './protocol'
import { sendOnce } from './send'
import { deliveryHeaders } from './sign'

declare const self: Worker

const USER_AGENT = `mlc-webhooks/${VERSION}`
/** Rows read per claim query. */
const CLAIM_BATCH = 256
/** At most one commit per this many milliseconds from the delivery loop. */
const MIN_CYCLE_GAP_MS = 2

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

/** The worker's state machine; exported for the thread entry below and for profiling. */
export function createDeliveryLoop(settings: WorkerSettings, post: (msg: FromWorker) => void) {
  let manualNow = settings.manualNowMs
  const clock: Clock = manualNow === null ? systemClock : { now: () => manualNow as number }
  const db: Database = openDatabase(settings.dbPath)
  const repo: WebhookRepo = createWebhookRepo(db)
  const inFlight = new Map<number, InFlight>()
  const perSubscription = new Map<number, number>()
  const watched = new Set<string>()
  let finished: Finished[] = []
  /** Subscriptions that freed a slot since the last cycle. */
  let freed = new Set<number>()
  let cycleScheduled = false
  let lastCycleAt = 0
  let timer: ReturnType<typeof setTimeout> | null = null
  let stopping = false
  let closed = false
  let onDrained: (() => void) | null = null
  /**
   * True once a full scan found nothing more to claim except rows of subscriptions at their
   * limit. Until something new can be due (a wake, the timer), a freed slot only looks at its own
   * subscription, so a long queue behind one busy endpoint is not rescanned on every completion.
   */
  let exhausted = false

  const log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => post({ type: 'log', level, msg, fields })

  function release(subscriptionId: number, seq: number) {
    inFlight.delete(seq)
    freed.add(subscriptionId)
    const n = (perSubscription.get(subscriptionId) ?? 1) - 1
    if (n <= 0) perSubscription.delete(subscriptionId)
    else perSubscription.set(subscriptionId, n)
  }

  /**
   * Runs a cycle soon: at once when the last one is older than MIN_CYCLE_GAP_MS, else when it
   * will be, so under load the results of many attempts share one commit (a commit costs far
   * more than a row) while a lone event still goes out without delay.
   */
  function scheduleCycle() {
    if (cycleScheduled || closed) return
    cycleScheduled = true
    const wait = MIN_CYCLE_GAP_MS - (performance.now() - lastCycleAt)
    if (wait > 0) setTimeout(cycle, wait)
    else setImmediate(cycle)
  }

  /**
   * One turn: write finished attempts, then claim what the limits allow, in a single commit;
   * start the claimed sends; set the timer for the next due row or lease end.
   */
  function cycle() {
    cycleScheduled = false
    if (closed) return
    lastCycleAt = performance.now()
    if (timer) clearTimeout(timer)
    timer = null
    const batch = finished
    finished = []
    for (const f of batch) release(f.subscriptionId, f.record.seq)
    const now = clock.now()
    let claimed: SendableRow[] = []
    try {
      claimed = repo.transaction(() => {
        writeFinished(batch, now)
        return stopping ? [] : claim(now)
      })
    } catch (err) {
      // Unwritten results: their leases expire and the rows are sent again (at least once, never lost).
      log('error', 'webhook queue write failed; retrying shortly', { error: String(err), results: batch.length })
      if (!stopping) schedule(now + 1000, now)
      return
    } finally {
      freed = new Set()
    }
    afterWrite(batch)
    for (const row of claimed) start(row, now)
    if (stopping) {
      if (inFlight.size === 0) onDrained?.()
      return
    }
    let next: number | null
    try {
      next = repo.nextWakeMs(now)
    } catch (err) {
      log('error', 'webhook schedule read failed', { error: String(err) })
      next = now + 1000
    }
    schedule(next, now)
  }

  function writeFinished(batch: Finished[], now: number) {
    for (const f of batch) repo.recordAttempt(f.record, now)
    for (const f of batch) {
      if (f.gone && repo.disableSubscription(f.subscriptionId, 'gone', now)) {
        const n = repo.deadLetterPending(f.subscriptionId, 'subscription deactivated: the endpoint answered 410 Gone', now)
        log('warn', 'webhook subscription deactivated: endpoint answered 410 Gone', { subscription_id: f.subscriptionId, dead_lettered: n })
      }
    }
  }

  function afterWrite(batch: Finished[]) {
    for (const f of batch) {
      const r = f.record
      post({
        type: 'attempt',
        result: r.status === 'succeeded' ? 'success' : r.status === 'dead' ? 'dead' : 'failure',
        fields: {
          delivery_id: f.deliveryId,
          subscription_id: f.subscriptionId,
          attempt: r.number,
          status: r.status,
          status_code: r.statusCode,
          error: r.error,
          duration_ms: r.durationMs,
          next_attempt_ms: r.nextAttemptMs,
        },
      })
      if (f.record.status === 'dead') log('warn', 'webhook delivery dead-lettered', { delivery_id: f.deliveryId, attempts: f.record.number })
      if (watched.delete(f.deliveryId)) post({ type: 'attempted', deliveryId: f.deliveryId, attempt: summary(f.record) })
    }
  }

  /** Leases due rows within the global and per-subscription limits (inside the cycle's transaction). */
  function claim(now: number): SendableRow[] {
    let free = settings.concurrency - inFlight.size
    const pending = new Map(perSubscription)
    const taken: SendableRow[] = []
    const take = (rows: { seq: number; subscription_id: number }[]) => {
      const chosen: number[] = []
      for (const row of rows) {
        if (free <= 0) break
        const busy = pending.get(row.subscription_id) ?? 0
        if (busy >= settings.perSubscription) continue
        pending.set(row.subscription_id, busy + 1)
        chosen.push(row.seq)
        free--
      }
      const leased = repo.leaseMany(chosen, now + settings.leaseMs, now)
      // Rows another claimer took in between give their slot back.
      for (const seq of chosen) {
        if (leased.some((l) => l.seq === seq)) continue
        const sub = rows.find((r) => r.seq === seq)?.subscription_id as number
        pending.set(sub, (pending.get(sub) ?? 1) - 1)
        free++
      }
      taken.push(...leased)
      return leased.length
    }
    if (!exhausted) {
      while (free > 0) {
        const saturated = [...pending].filter(([, n]) => n >= settings.perSubscription).map(([id]) => id)
        const limit = Math.min(CLAIM_BATCH, free * 2)
        const rows = repo.dueRows(now, limit, saturated)
        const n = take(rows)
        if (rows.length < limit) {
          exhausted = free > 0
          break
        }
        // Every row was leased by another claimer: try again on the next turn.
        if (n === 0) break
      }
    } else {
      for (const sub of freed) {
        if (free <= 0) break
        const room = settings.perSubscription - (pending.get(sub) ?? 0)
        if (room > 0) take(repo.dueRowsFor(sub, now, Math.min(room, free)))
      }
    }
    return taken
  }

  /** Sleeps until `atMs` (capped by the idle check); a manual clock only moves on messages. */
  function schedule(atMs: number | null, now: number) {
    if (manualNow !== null || stopping || closed) return
    const delay = atMs === null ? settings.idleCheckMs : Math.min(Math.max(0, atMs - now), settings.idleCheckMs)
    timer = setTimeout(wake, delay)
  }

  /** Something new may be due: look at the whole queue again. */
  function wake() {
    exhausted = false
    scheduleCycle()
  }

  function start(row: SendableRow, now: number) {
    const job: InFlight = { seq: row.seq, subscriptionId: row.subscription_id, abort: new AbortController() }
    inFlight.set(row.seq, job)
    perSubscription.set(row.subscription_id, (perSubscription.get(row.subscription_id) ?? 0) + 1)
    attempt(job, row, now).catch((err) => {
      log('error', 'webhook attempt crashed', { error: String(err) })
      // The lease is left to expire so the row is tried again.
      release(job.subscriptionId, job.seq)
      scheduleCycle()
    })
  }

  async function attempt(job: InFlight, row: SendableRow, at: number) {
    if (!row.active) {
      repo.deadLetter(job.seq, 'subscription inactive', at)
      release(job.subscriptionId, job.seq)
      scheduleCycle()
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
      scheduleCycle()
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
    scheduleCycle()
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
    const before = inFlight.size - finished.length
    if (inFlight.size > finished.length) {
      await new Promise<void>((resolve) => {
        onDrained = resolve
        setTimeout(resolve, graceMs)
      })
    }
    cycle()
    const handedBack = inFlight.size
    // Aborted attempts give their rows back themselves (no attempt is counted).
    for (const job of inFlight.values()) job.abort.abort()
    for (let i = 0; i < 100 && inFlight.size > 0; i++) await Bun.sleep(10)
    cycle()
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
          wake()
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
    /** Starts the first turn (rows left from a previous run are due at once). */
    start: wake,
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
      loop.start()
      return
    }
    loop?.receive(msg)
  }
}
