/**
 * Group commit: write jobs queued during one turn of the event loop run together in a single
 * write transaction, each inside its own savepoint (one job's error rolls back only that job).
 * Every job's promise settles only after the COMMIT that holds its writes, so "the response
 * means it is stored" still holds while concurrent writers share one WAL commit.
 */
import type { Database } from 'bun:sqlite'

interface Job {
  fn: () => unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

export class GroupCommit {
  private queue: Job[] = []
  private scheduled = false

  constructor(
    private readonly db: Database,
    /** Most jobs in one transaction; more wait for the next one. */
    private readonly maxBatch = 256,
  ) {}

  /** Runs `fn` in the next group transaction; resolves with its result once committed. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  /** Commits everything queued now (also called on shutdown). */
  flush(): void {
    this.scheduled = false
    while (this.queue.length > 0) {
      const jobs = this.queue.splice(0, this.maxBatch)
      const outcomes: { ok: boolean; value: unknown }[] = []
      try {
        this.db
          .transaction(() => {
            for (const job of jobs) {
              try {
                // A nested transaction is a SAVEPOINT: a throwing job undoes only its own writes.
                outcomes.push({ ok: true, value: this.db.transaction(job.fn)() })
              } catch (err) {
                outcomes.push({ ok: false, value: err })
              }
            }
          })
          .immediate()
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
}
