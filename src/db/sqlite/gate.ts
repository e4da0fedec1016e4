/**
 * The SQLite connection gate. bun:sqlite runs statements synchronously on one connection, so a
 * statement can never interleave with another. A transaction, though, spans `await`s: while its
 * callback waits, other requests' code runs, and their statements would land inside the open
 * transaction (committed with it, or rolled back by its error: an acknowledged write undone by
 * someone else's failure). The gate closes while a transaction is open; every statement from
 * outside waits for it, and transactions queue behind one another in arrival order.
 *
 * When the gate is open (the usual case) a statement runs at once, on the caller's stack: the
 * embedded engine's speed is that it never waits for anything.
 */
export class ConnectionGate {
  private held = false
  private readonly waiting: (() => void)[] = []

  /** True while a transaction holds the connection. */
  get closed(): boolean {
    return this.held
  }

  /** Takes the connection; resolves once it is ours (in arrival order). */
  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true
      return Promise.resolve()
    }
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  /** Gives the connection to the next waiter, or opens the gate. */
  release(): void {
    const next = this.waiting.shift()
    if (next) next()
    else this.held = false
  }

  /**
   * Runs one synchronous step (a statement, a repository call) outside any transaction: at once
   * when the gate is open, else holding the gate after the transactions queued before it.
   */
  run<T>(step: () => T): Promise<T> {
    if (!this.held) {
      try {
        return Promise.resolve(step())
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return this.acquire().then(() => {
      try {
        return step()
      } finally {
        this.release()
      }
    })
  }
}
