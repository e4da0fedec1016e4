/**
 * The SQLite engine behind the async storage interface. Its repositories stay synchronous
 * bun:sqlite statements; each method here answers a settled promise, after the statement ran
 * on the caller's stack (nothing to wait for when no transaction is open, see gate.ts).
 *
 * Transactions: `transaction(fn)` takes the connection gate, BEGIN IMMEDIATE, awaits `fn(tx)`
 * with a store whose methods bypass the gate (they are the holder's), COMMIT or ROLLBACK, and
 * opens the gate. A transaction inside a transaction is a savepoint. `grouped(fn)` may share one
 * COMMIT with the writes arriving in the same event-loop turn (group commit); each keeps its own
 * savepoint, so one failing write undoes only itself. `tx.lock(key)` is a no-op: the transaction
 * already holds the write lock.
 */
import type { Database, Statement } from 'bun:sqlite'
import { withBusyTimeout } from './busy-timeout'
import { fromSqliteError } from './errors'
import { ConnectionGate } from './gate'

/** Every method of `repo`, answering promises, each run through `call`. */
function asyncMethods<R extends object>(repo: R, call: <T>(step: () => T) => Promise<T>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(repo)) {
    if (typeof value === 'function') out[name] = (...args: unknown[]) => call(() => value(...args))
  }
  return out
}

/** Runs a synchronous step with its errors in the engines' common words. */
function mapped<T>(step: () => T): T {
  try {
    return step()
  } catch (err) {
    throw fromSqliteError(err)
  }
}

/** A step run directly, as a settled promise (inside a transaction: the connection is ours). */
function settled<T>(step: () => T): Promise<T> {
  try {
    return Promise.resolve(step())
  } catch (err) {
    return Promise.reject(fromSqliteError(err))
  }
}

interface GroupJob {
  fn: (tx: never) => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

/**
 * Builds the async face of a synchronous repository set over `db`. `repos` maps names to the
 * synchronous repositories; the answer has the same names, each an async repository, plus
 * `transaction`, `grouped` and `gate`.
 */
export function createAsyncSqlite<Repos extends Record<string, object>>(db: Database, repos: Repos, opts: { maxGroup?: number } = {}) {
  const gate = new ConnectionGate()
  const maxGroup = opts.maxGroup ?? 256
  const begin = db.prepare('BEGIN IMMEDIATE') as Statement
  const commit = db.prepare('COMMIT') as Statement
  const rollback = db.prepare('ROLLBACK') as Statement

  const outer: Record<string, unknown> = {}
  const inner: Record<string, unknown> = {}
  for (const [name, repo] of Object.entries(repos)) {
    outer[name] = asyncMethods(repo, (step) => gate.run(() => mapped(step)))
    inner[name] = asyncMethods(repo, settled)
  }

  // One savepoint name serves every level: SQLite resolves RELEASE and ROLLBACK TO to the most
  // recent savepoint of that name, which is the innermost open one. Prepared once: compiling the
  // three statements for each tracked event cost more than its savepoint.
  const savepoint = db.prepare('SAVEPOINT mlc_sp') as Statement
  const releaseSavepoint = db.prepare('RELEASE mlc_sp') as Statement
  const rollbackToSavepoint = db.prepare('ROLLBACK TO mlc_sp') as Statement

  /** A savepoint inside the open transaction (nested transactions, group jobs). */
  async function inSavepoint<T>(fn: (tx: never) => Promise<T>): Promise<T> {
    mapped(() => savepoint.run())
    try {
      const value = await fn(inner as never)
      mapped(() => releaseSavepoint.run())
      return value
    } catch (err) {
      rollbackToSavepoint.run()
      releaseSavepoint.run()
      throw err
    }
  }

  /**
   * Runs `fn` in one write transaction holding the gate. With `noWait`, BEGIN does not sleep in
   * SQLite's busy handler when another connection holds the write lock: it fails at once.
   */
  async function transaction<T>(fn: (tx: never) => Promise<T>, opts: { noWait?: boolean } = {}): Promise<T> {
    await gate.acquire()
    try {
      if (opts.noWait) mapped(() => withBusyTimeout(db, 0, () => begin.run()))
      else mapped(() => begin.run())
      let value: T
      try {
        value = await fn(inner as never)
      } catch (err) {
        if (db.inTransaction) rollback.run()
        throw err
      }
      mapped(() => commit.run())
      return value
    } catch (err) {
      if (db.inTransaction) rollback.run()
      throw fromSqliteError(err)
    } finally {
      gate.release()
    }
  }

  let queue: GroupJob[] = []
  let scheduled = false
  /** Commits the jobs queued so far, up to `maxGroup` per transaction. */
  async function flushGroups(): Promise<void> {
    scheduled = false
    while (queue.length > 0) {
      const jobs = queue.slice(0, maxGroup)
      queue = queue.slice(maxGroup)
      const outcomes: { ok: boolean; value: unknown }[] = []
      try {
        await transaction(async () => {
          for (const job of jobs) {
            try {
              outcomes.push({ ok: true, value: await inSavepoint(job.fn) })
            } catch (err) {
              outcomes.push({ ok: false, value: fromSqliteError(err) })
            }
          }
        })
      } catch (err) {
        for (const job of jobs) job.reject(err)
        continue
      }
      jobs.forEach((job, i) => {
        const o = outcomes[i] as { ok: boolean; value: unknown }
        if (o.ok) job.resolve(o.value)
        else job.reject(o.value)
      })
    }
  }

  /** Runs `fn` in the next group transaction; resolves with its result once committed. */
  function grouped<T>(fn: (tx: never) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ fn, resolve: resolve as (v: unknown) => void, reject })
      if (!scheduled) {
        scheduled = true
        setImmediate(flushGroups)
      }
    })
  }

  // TxStore.lock: a transaction here began with BEGIN IMMEDIATE and holds the gate, so it already
  // has the database's one write lock and no other transaction runs until it ends. Nothing to take.
  const lock = (_key: string): Promise<void> => Promise.resolve()
  const txExtras = { transaction: inSavepoint, grouped: inSavepoint, lock }
  Object.assign(inner, txExtras)
  Object.assign(outer, { transaction: (fn: (tx: never) => Promise<unknown>) => transaction(fn), grouped })
  return { outer, inner, gate, flushGroups, transaction }
}
