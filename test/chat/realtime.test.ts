/** The realtime hub: topics, fan-out once per client, broken clients dropped. */
import { describe, expect, test } from 'bun:test'
import { RealtimeHub, sessionTopic, siteTopic } from '../../src/chat/realtime'

function client() {
  const frames: string[] = []
  return { frames, send: (d: string) => frames.push(d) }
}

describe('RealtimeHub', () => {
  test('delivers to the topic subscribers only, once per client even on two topics', () => {
    const hub = new RealtimeHub()
    const visitor = client()
    const agent = client()
    const other = client()
    hub.subscribe(sessionTopic('cs_a'), visitor)
    hub.subscribe(siteTopic(1), agent)
    hub.subscribe(sessionTopic('cs_a'), agent)
    hub.subscribe(sessionTopic('cs_b'), other)
    const n = hub.publish([sessionTopic('cs_a'), siteTopic(1)], { type: 'status', session_id: 'cs_a', status: 'human', handoff_reason: null, closed_by: null })
    expect(n).toBe(2)
    expect(visitor.frames).toHaveLength(1)
    expect(agent.frames).toHaveLength(1)
    expect(other.frames).toHaveLength(0)
    expect(JSON.parse(visitor.frames[0] as string)).toMatchObject({ type: 'status', status: 'human' })
  })

  test('unsubscribe stops delivery and forgets empty topics', () => {
    const hub = new RealtimeHub()
    const c = client()
    hub.subscribe('t', c)
    hub.unsubscribe('t', c)
    expect(hub.count('t')).toBe(0)
    expect(hub.publish(['t'], { type: 'session', session: {} })).toBe(0)
  })

  test('a client whose send throws is dropped and does not stop the others', () => {
    const hub = new RealtimeHub()
    const broken = {
      send: () => {
        throw new Error('closed')
      },
    }
    const good = client()
    hub.subscribe('t', broken)
    hub.subscribe('t', good)
    expect(hub.publish(['t'], { type: 'session', session: {} })).toBe(1)
    expect(good.frames).toHaveLength(1)
    expect(hub.count('t')).toBe(1)
  })
})
