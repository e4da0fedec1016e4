/**
 * The delivery worker: runs in its own thread with its own store (a second connection to the
 * SQLite file, or its own PostgreSQL pool). It claims due rows with a lease (longer than the
 * timeout), signs and sends them with bounded concurrency (globally, and per subscription over
 * every instance's worker), records finished attempts and claims the next rows in one commit
 * (`recordAndClaim`), and sleeps until the next due retry unless woken by the request thread.
 * Imports no HTTP or module code.
 */
import { type Clock, systemClock } from '../clock'
import { connectStore } from '../db/open-store'
import type { AttemptRecord, ClaimCycle, FinishedAttempt, SendableRow } from '../db/rows'
import type { Store } from '../db/store'
import { VERSION } from '../version'
import { nextAttemptMs } from './backoff'
import type { AttemptReport, AttemptSummary, FromWorker, ToWorker, WorkerDatabase, WorkerSettings } from './protocol'
import { sendOnce } from './send'
import { deliveryHeaders } from './sign'

declare const self: Worker

const USER_AGENT = `mlc-webhooks/${VERSION}`
/** At most one commit per this many milliseconds from the delivery loop. */
const MIN_CYCLE_GAP_MS = 2

interface InFlight {
  seq: number
  subscriptionId: number
  abort: AbortController
}

/** A finished attempt waiting for the next cycle to record it. */
interface Finished extends FinishedAttempt {
  deliveryId: string
}

/**
 * The worker's own store over the queue's database. The request thread migrated it already, so
 * this only connects: a second SQLite connection to the file, or a small pool of its own.
 */
export function openWorkerStore(database: WorkerDatabase): Store {
  return connectStore(database)
}

/** The worker's state machine; exported for the thread entry below and for profiling. */
export function createDeliveryLoop(settings: WorkerSettings, post: (msg: FromWorker) => void) {
  let manualNow = settings.manualNowMs
  const clock: Clock = manualNow === null ? systemClock : { now: () => manualNow as number }
  const store = openWorkerStore(settings.database)
  const inFlight = new Map<number, InFlight>()
  const watched = new Set<string>()
  let finished: Finished[] = []
  /** Subscriptions that freed a slot since the last cycle. */
  let freed = new Set<number>()
  /** A cycle is wanted: its timer or immediate is set, or it starts when the running one ends. */
  let cycleScheduled = false
  /** A timer or immediate is set to start a cycle. */
  let armed = false
  /** The cycle in progress: cycles await the store, and never overlap. */
  let running: Promise<void> | null = null
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
  /** Counts wakes, so a cycle that was woken while it waited for the store does not mark the queue exhausted. */
  let wakes = 0

  const log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => post({ type: 'log', level, msg, fields })

  function release(subscriptionId: number, seq: number) {
    inFlight.delete(seq)
    freed.add(subscriptionId)
  }

  /**
   * Runs a cycle soon: at once when the last one is older than MIN_CYCLE_GAP_MS, else when it
   * will be, so under load the results of many attempts share one commit (a commit costs far
   * more than a row) while a lone event still goes out without delay. While a cycle runs, the
   * next one starts when it ends.
   */
  function scheduleCycle() {
    if (cycleScheduled || closed) return
    cycleScheduled = true
    if (!running) arm()
  }

  function arm() {
    if (armed) return
    armed = true
    const wait = MIN_CYCLE_GAP_MS - (performance.now() - lastCycleAt)
    if (wait > 0) setTimeout(fire, wait)
    else setImmediate(fire)
  }

  function fire() {
    armed = false
    // A cycle started meanwhile (by stop) either served the request or re-arms when it ends.
    if (running || !cycleScheduled) return
    void runCycle()
  }

  /** Runs one cycle once the one in progress (if any) has ended; never rejects. */
  async function runCycle(): Promise<void> {
    while (running) await running
    cycleScheduled = false
    const current = turn()
    running = current
    try {
      await current
    } finally {
      running = null
      if (cycleScheduled && !closed) arm()
    }
  }

  /** One cycle, with any failure logged (a cycle never rejects). */
  async function turn(): Promise<void> {
    try {
      await cycle()
    } catch (err) {
      log('error', 'webhook cycle failed', { error: String(err) })
      if (!stopping && !closed) schedule(clock.now() + 1000, clock.now())
    }
  }

  /**
   * One turn: write finished attempts, then claim what the limits allow, in a single commit;
   * start the claimed sends; set the timer for the next due row or lease end.
   */
  async function cycle(): Promise<void> {
    if (closed) return
    lastCycleAt = performance.now()
    if (timer) clearTimeout(timer)
    timer = null
    const batch = finished
    finished = []
    for (const f of batch) release(f.subscriptionId, f.record.seq)
    const now = clock.now()
    const only = exhausted ? [...freed] : null
    freed = new Set()
    const wakesBefore = wakes
    let result: ClaimCycle
    try {
      result = await store.webhooks.recordAndClaim(batch, now, {
        max: stopping ? 0 : settings.concurrency - inFlight.size,
        perSubscription: settings.perSubscription,
        leaseMs: settings.leaseMs,
        onlySubscriptions: only,
      })
    } catch (err) {
      // Unwritten results: their leases expire and the rows are sent again (at least once, never lost).
      log('error', 'webhook queue write failed; retrying shortly', { error: String(err), results: batch.length })
      if (!stopping) schedule(now + 1000, now)
      return
    }
    if (only === null && !stopping && wakes === wakesBefore) exhausted = result.exhausted
    // The claimed rows go out first: reporting what was recorded is not on a delivery's way.
    for (const row of result.claimed) start(row, now)
    for (const d of result.deactivated) {
      log('warn', 'webhook subscription deactivated: endpoint answered 410 Gone', { subscription_id: d.subscriptionId, dead_lettered: d.deadLettered })
    }
    afterWrite(batch)
    if (stopping) {
      if (inFlight.size === 0) onDrained?.()
      return
    }
    let next: number | null
    try {
      next = await store.webhooks.nextWakeMs(now)
    } catch (err) {
      log('error', 'webhook schedule read failed', { error: String(err) })
      next = now + 1000
    }
    schedule(next, now)
  }

  /** Reports what a cycle recorded: one message with every attempt, then dead letters and watched deliveries. */
  function afterWrite(batch: Finished[]) {
    if (batch.length === 0) return
    const attempts: AttemptReport[] = batch.map(({ record: r, deliveryId, subscriptionId }) => ({
      result: r.status === 'succeeded' ? 'success' : r.status === 'dead' ? 'dead' : 'failure',
      fields: {
        delivery_id: deliveryId,
        subscription_id: subscriptionId,
        attempt: r.number,
        status: r.status,
        status_code: r.statusCode,
        error: r.error,
        duration_ms: r.durationMs,
        next_attempt_ms: r.nextAttemptMs,
      },
    }))
    post({ type: 'attempts', attempts })
    for (const f of batch) {
      if (f.record.status === 'dead') log('warn', 'webhook delivery dead-lettered', { delivery_id: f.deliveryId, attempts: f.record.number })
      if (watched.delete(f.deliveryId)) post({ type: 'attempted', deliveryId: f.deliveryId, attempt: summary(f.record) })
    }
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
    wakes++
    scheduleCycle()
  }

  function start(row: SendableRow, now: number) {
    const job: InFlight = { seq: row.seq, subscriptionId: row.subscription_id, abort: new AbortController() }
    inFlight.set(row.seq, job)
    attempt(job, row, now).catch((err) => {
      log('error', 'webhook attempt crashed', { error: String(err) })
      // The lease is left to expire so the row is tried again.
      release(job.subscriptionId, job.seq)
      scheduleCycle()
    })
  }

  async function attempt(job: InFlight, row: SendableRow, at: number) {
    if (!row.active) {
      await store.webhooks.deadLetter(job.seq, 'subscription inactive', at)
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
      await store.webhooks.releaseLease(job.seq)
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
    await runCycle()
    const handedBack = inFlight.size
    // Aborted attempts give their rows back themselves (no attempt is counted).
    for (const job of inFlight.values()) job.abort.abort()
    for (let i = 0; i < 100 && inFlight.size > 0; i++) await Bun.sleep(10)
    await runCycle()
    try {
      for (const job of [...inFlight.values()]) await store.webhooks.releaseLease(job.seq)
    } catch (err) {
      // Their leases expire instead, and the rows are claimed again then.
      log('error', 'webhook lease hand-back failed', { error: String(err) })
    }
    closed = true
    // A cycle an attempt started meanwhile finishes before the connections close.
    while (running) await running
    await store.close()
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
    loop
      ?.receive(msg)
      .catch((err) => post({ type: 'log', level: 'error', msg: 'webhook worker message failed', fields: { type: msg.type, error: String(err) } }))
  }
}
