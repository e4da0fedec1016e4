/**
 * Messages between the request thread (the dispatcher) and the delivery worker thread. Both
 * sides import only these types, so a change to the conversation is a change to this file.
 */

/** Why an attempt failed, as the delivery log shows it. */
export type AttemptError = 'timeout' | 'dns' | 'refused' | 'tls' | 'http'

/**
 * The database the worker opens for itself (a thread cannot share the request thread's
 * connections): a second connection to the SQLite file, or its own small PostgreSQL pool.
 */
export type WorkerDatabase =
  | {
      engine: 'sqlite'
      /** The SQLite file. */
      path: string
    }
  | {
      engine: 'postgres'
      url: string
      poolSize: number
      /** Milliseconds; 0 means no limit. */
      statementTimeoutMs: number
      prepare: boolean
    }

/** What the worker needs to run; sent once, in the `init` message. */
export interface WorkerSettings {
  /** Where the queue is: the worker opens its own store over it. */
  database: WorkerDatabase
  timeoutMs: number
  /** Seconds to wait after failed attempt 1, 2, ...; one attempt more than entries, then dead. */
  backoffSeconds: number[]
  allowPrivate: boolean
  concurrency: number
  perSubscription: number
  /** How long a claimed row stays ours: longer than the timeout, so a live attempt is never stolen. */
  leaseMs: number
  /** The longest the worker sleeps without being woken (a backstop for rows written by other processes). */
  idleCheckMs: number
  /** Set when the dispatcher's clock is not the wall clock: the worker then follows `now` from each message. */
  manualNowMs: number | null
}

/** One attempt's outcome, as reported back to the request thread. */
export interface AttemptSummary {
  number: number
  at_ms: number
  duration_ms: number
  status_code: number | null
  error: AttemptError | null
  error_message: string | null
  /** The delivery's status after this attempt. */
  status: 'pending' | 'succeeded' | 'failed' | 'dead'
  next_attempt_ms: number | null
}

/** One recorded attempt, for the request thread's log line and metrics. */
export interface AttemptReport {
  result: 'success' | 'failure' | 'dead'
  fields: Record<string, unknown>
}

export type ToWorker =
  | { type: 'init'; settings: WorkerSettings }
  /** Something may be due now (a commit, a retry request, or the test clock moved). */
  | { type: 'wake'; nowMs?: number }
  /** Report the next attempt of this delivery with an `attempted` message. */
  | { type: 'watch'; deliveryId: string }
  /** Liveness probe; the worker answers `pong`. */
  | { type: 'ping' }
  /** Finish or hand back claimed rows within `graceMs`, then answer `stopped`. */
  | { type: 'stop'; graceMs: number }

export type FromWorker =
  | { type: 'ready' }
  | { type: 'attempted'; deliveryId: string; attempt: AttemptSummary }
  | { type: 'pong' }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> }
  /**
   * The attempts one cycle recorded, in one message (a message per attempt cost the worker more
   * than recording it): each is one log line and one count in mlc_webhook_deliveries_total{result}.
   */
  | { type: 'attempts'; attempts: AttemptReport[] }
  | { type: 'stopped'; handedBack: number }
