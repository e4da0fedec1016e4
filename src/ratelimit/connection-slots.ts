/**
 * Caps on things held open, per key (WebSockets per API token, per dashboard session, per
 * visitor). Unlike a token bucket nothing refills with time: a slot comes back only when its
 * holder releases it. In memory, per process, like the sockets themselves.
 */
export class ConnectionSlots {
  private readonly held = new Map<string, number>()

  constructor(
    /** Slots per key. */
    readonly max: number,
  ) {}

  /**
   * Takes a slot under `key`: the function that gives it back (calling it again does nothing),
   * or null when all `max` are held. Take and check are one step, so a burst cannot overshoot.
   */
  acquire(key: string): (() => void) | null {
    const n = this.held.get(key) ?? 0
    if (n >= this.max) return null
    this.held.set(key, n + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.held.get(key) ?? 1) - 1
      if (left > 0) this.held.set(key, left)
      else this.held.delete(key)
    }
  }

  /** Slots held under `key`. */
  count(key: string): number {
    return this.held.get(key) ?? 0
  }

  /** Keys holding at least one slot (an empty key is forgotten, so this stays bounded by what is open). */
  get keys(): number {
    return this.held.size
  }
}
