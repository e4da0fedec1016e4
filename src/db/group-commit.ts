/**
 * Group commit: write jobs queued during one turn of the event loop run together in a single
 * write transaction, each inside its own savepoint (one job's error rolls back only that job).
 * Every job's promise settles only after the COMMIT that holds its writes, so "the response
 * means it is stored" still holds while concurrent writers share one WAL commit.
 */
import type { Database, Statement } from 'bun:sqlite'

interface Job {
  fn: () => unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

export class GroupCommit {
  private queue: Job[] = []
  private scheduled = false
  private readonly begin: Statement
  private readonly commit: Statement
  private readonly rollback: Statement
  private readonly savepoint: Statement
  private readonly release: Statement
  private readonly rollbackTo: Statement

  constructor(
    private readonly db: Database,
    /** Most jobs in one transaction; more wait for the next one. */
    private readonly maxBatch = 256,
  ) {
    // Prepared once: building a db.transaction() wrapper per job costs more than the job's writes.
    this.begin = db.prepare('BEGIN IMMEDIATE')
    this.commit = db.prepare('COMMIT')
    this.rollback = db.prepare('ROLLBACK')
    this.savepoint = db.prepare('SAVEPOINT group_job')
    this.release = db.prepare('RELEASE group_job')
    this.rollbackTo = db.prepare('ROLLBACK TO group_job')
  }

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
        this.begin.run()
      } catch (err) {
        for (const job of jobs) job.reject(err)
        continue
      }
      try {
        for (const job of jobs) {
          // A savepoint per job: a throwing job undoes only its own writes.
          this.savepoint.run()
          try {
            outcomes.push({ ok: true, value: job.fn() })
            this.release.run()
          } catch (err) {
            this.rollbackTo.run()
            this.release.run()
            outcomes.push({ ok: false, value: err })
          }
        }
        this.commit.run()
      } catch (err) {
        if (this.db.inTransaction) this.rollback.run()
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
