/**
 * A per-key memory cache for small, rarely changing lists read on hot paths (a site's tags, its
 * segments). The owner clears it after its own writes; writes by any other connection (the CLI,
 * the webhook worker, another process) show in `PRAGMA data_version`, which drops everything.
 * Reading the version takes the database's shared lock (~5 µs, as much as the query it saves), so
 * it is read at most once per `recheckMs` (5 ms): other connections' writes show within that.
 */
import type { Database } from 'bun:sqlite'

/** Creates the cache over `db`. Values are shared: treat them as read-only. */
export function createVersionedCache<K, V>(db: Database, recheckMs = 5) {
  const dataVersion = db.query<{ data_version: number }, []>('PRAGMA data_version')
  const entries = new Map<K, V>()
  let seenVersion = -1
  // Monotonic process time, not the injected clock: this bounds staleness, it is not business logic.
  let checkedAt = Number.NEGATIVE_INFINITY
  return {
    /** The cached value for `key`, loading it when absent or when another connection wrote. */
    get(key: K, load: () => V): V {
      const now = performance.now()
      if (now - checkedAt >= recheckMs) {
        checkedAt = now
        const version = dataVersion.get()?.data_version ?? -1
        if (version !== seenVersion) {
          entries.clear()
          seenVersion = version
        }
      }
      let value = entries.get(key)
      if (value === undefined) {
        value = load()
        entries.set(key, value)
      }
      return value
    },
    /** Drops everything (after this connection wrote, or a transaction that wrote ended). */
    clear(): void {
      entries.clear()
    },
  }
}
