/** Monthly cycles anchored on the site's creation instant, clamped to short months. */
import { describe, expect, test } from 'bun:test'
import { addMonthsClamped, billingCycle } from '../../src/chat/billing-cycle'

const iso = (ms: number) => new Date(ms).toISOString()
const at = (s: string) => Date.parse(s)

describe('billing cycles', () => {
  test('a mid-month anchor renews on the same day and time', () => {
    const c = billingCycle(at('2026-03-15T10:30:00Z'), at('2026-11-20T00:00:00Z'))
    expect([iso(c.startMs), iso(c.endMs)]).toEqual(['2026-11-15T10:30:00.000Z', '2026-12-15T10:30:00.000Z'])
  })

  test('just before the anchor time the previous cycle still runs', () => {
    const c = billingCycle(at('2026-03-15T10:30:00Z'), at('2026-11-15T10:29:59.999Z'))
    expect(iso(c.startMs)).toBe('2026-10-15T10:30:00.000Z')
  })

  test('the anchor instant itself opens a cycle', () => {
    const c = billingCycle(at('2026-03-15T10:30:00Z'), at('2026-03-15T10:30:00Z'))
    expect(iso(c.startMs)).toBe('2026-03-15T10:30:00.000Z')
  })

  test('the 31st clamps to short months and comes back', () => {
    const anchor = at('2026-01-31T08:00:00Z')
    expect(iso(addMonthsClamped(anchor, 1))).toBe('2026-02-28T08:00:00.000Z')
    expect(iso(addMonthsClamped(anchor, 2))).toBe('2026-03-31T08:00:00.000Z')
    expect(iso(addMonthsClamped(anchor, 3))).toBe('2026-04-30T08:00:00.000Z')
    const feb = billingCycle(anchor, at('2026-03-10T00:00:00Z'))
    expect([iso(feb.startMs), iso(feb.endMs)]).toEqual(['2026-02-28T08:00:00.000Z', '2026-03-31T08:00:00.000Z'])
  })

  test('leap years: Feb 29 in 2028, Feb 28 otherwise, across year ends', () => {
    const anchor = at('2027-12-30T00:00:00Z')
    expect(iso(addMonthsClamped(anchor, 2))).toBe('2028-02-29T00:00:00.000Z')
    const c = billingCycle(anchor, at('2029-01-05T00:00:00Z'))
    expect([iso(c.startMs), iso(c.endMs)]).toEqual(['2028-12-30T00:00:00.000Z', '2029-01-30T00:00:00.000Z'])
  })
})
