/**
 * Row conversion for PostgreSQL. `Bun.sql` returns BIGINT (ids, millisecond times, counts) and
 * `COUNT(*)` as strings, since they may exceed 2^53; mlc's values never do, and its rows must be
 * the SQLite engine's rows exactly (integers in JSON, same field names, same order of keys).
 */

/** A converter that turns the named BIGINT columns of a row into numbers (null stays null). */
export function bigintColumns<T>(...columns: string[]): (row: Record<string, unknown>) => T {
  return (row) => {
    for (const c of columns) {
      const v = row[c]
      if (typeof v === 'string' || typeof v === 'bigint') row[c] = Number(v)
    }
    return row as T
  }
}

/** The first row converted, or null when there is none (what bun:sqlite's `get` answers). */
export function firstOrNull<T>(rows: Record<string, unknown>[], convert: (row: Record<string, unknown>) => T): T | null {
  const row = rows[0]
  return row === undefined ? null : convert(row)
}

/** Every row converted, as a plain array (Bun.sql's result array carries extra fields). */
export function allRows<T>(rows: Record<string, unknown>[], convert: (row: Record<string, unknown>) => T): T[] {
  const out: T[] = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) out[i] = convert(rows[i] as Record<string, unknown>)
  return out
}
