/**
 * Cursors and date filters of the chat read resources. Lists run newest first by integer id; a
 * cursor is the opaque base64url form of the last id shown, so the next page starts below it.
 */
import { BadRequestError } from '../errors'

/** The cursor that continues a newest-first list after the row `id`. */
export function encodeIdCursor(id: number): string {
  return Buffer.from(`id:${id}`).toString('base64url')
}

/** The id a cursor continues below; 400 naming `cursor` for anything this API did not issue. */
export function decodeIdCursor(cursor: string): number {
  const m = /^id:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (!m) throw new BadRequestError('cursor is not a next_cursor this API returned', 'cursor')
  return Number(m[1])
}

/** Milliseconds of an ISO-8601 date or date-time; 400 naming `param` otherwise. */
export function parseSince(raw: string, param = 'since'): number {
  const ok = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i.test(raw.trim())
  const ms = ok ? Date.parse(raw.trim()) : Number.NaN
  if (!Number.isFinite(ms)) throw new BadRequestError(`${param} must be an ISO-8601 date or date-time, like 2026-11-01T00:00:00Z`, param)
  return ms
}

/** One page from `limit + 1` fetched rows: the first `limit`, whether more exist, and the cursor. */
export function pageOf<R, T>(rows: R[], limit: number, present: (row: R) => T, positionOf: (row: R) => number) {
  const has_more = rows.length > limit
  const shown = has_more ? rows.slice(0, limit) : rows
  const last = shown.at(-1)
  return { items: shown.map(present), has_more, next_cursor: has_more && last !== undefined ? encodeIdCursor(positionOf(last)) : null }
}
