/**
 * localStorage behind an in-memory copy. Storage that throws (Safari private mode, disabled
 * cookies, quota) only loses persistence: the page keeps working from memory.
 */
const mem: Record<string, unknown> = {}

/** The stored value of `key`, or `fallback` when absent, unreadable or of another shape. */
export function load<T extends object>(key: string, fallback: T): T {
  if (!(key in mem)) {
    let v: unknown
    try {
      v = JSON.parse(localStorage.getItem(key) as string)
    } catch {}
    mem[key] = v && typeof v === 'object' && Array.isArray(v) === Array.isArray(fallback) ? v : fallback
  }
  return mem[key] as T
}

/** Stores `value` (memory always, localStorage when it works). */
export function save(key: string, value: unknown): void {
  mem[key] = value
  try {
    localStorage.setItem(key, JSON.stringify(value))
  } catch {}
}

/** Removes `key` from both. */
export function drop(key: string): void {
  delete mem[key]
  try {
    localStorage.removeItem(key)
  } catch {}
}

// Another tab changed storage: read it again next time instead of using a stale copy.
window.addEventListener('storage', (e) => {
  if (e.key) delete mem[e.key]
})
