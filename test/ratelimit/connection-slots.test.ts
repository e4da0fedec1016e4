/** ConnectionSlots: at most `max` held per key, a slot comes back once on release, empty keys are forgotten. */
import { describe, expect, test } from 'bun:test'
import { ConnectionSlots } from '../../src/ratelimit/connection-slots'

describe('ConnectionSlots', () => {
  test('holds at most max per key; other keys are separate', () => {
    const slots = new ConnectionSlots(2)
    expect(slots.acquire('a')).toBeFunction()
    expect(slots.acquire('a')).toBeFunction()
    expect(slots.acquire('a')).toBeNull()
    expect(slots.acquire('b')).toBeFunction()
    expect(slots.count('a')).toBe(2)
  })

  test('a release gives one slot back, however often it is called', () => {
    const slots = new ConnectionSlots(2)
    const first = slots.acquire('a') as () => void
    slots.acquire('a')
    first()
    first()
    expect(slots.count('a')).toBe(1)
    expect(slots.acquire('a')).toBeFunction()
    expect(slots.acquire('a')).toBeNull()
  })

  test('a key with nothing held is forgotten', () => {
    const slots = new ConnectionSlots(1)
    const release = slots.acquire('a') as () => void
    expect(slots.keys).toBe(1)
    release()
    expect(slots.keys).toBe(0)
  })
})
