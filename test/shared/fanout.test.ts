/**
 * The hub over a fan-out (src/shared/fanout.ts, src/chat/realtime.ts): in-process it is the hub
 * it always was; over a shared fan-out each event is serialised once, handed to the fan-out once
 * and delivered to local sockets once; frames from other instances reach only local subscribers
 * of their topics; resync frames go to the topics named (or every socket), spread out when many;
 * control messages run here and are passed on, but one received from elsewhere is not passed back.
 */
import { describe, expect, test } from 'bun:test'
import { RESYNC_FRAME, RealtimeHub, sessionTopic, siteTopic } from '../../src/chat/realtime'
import { createInProcessFanout, type Fanout, type FanoutSink } from '../../src/shared/fanout'

function client() {
  const frames: string[] = []
  return { frames, send: (d: string) => frames.push(d) }
}

/** A shared fan-out that records what the hub hands it, and lets the test play "another instance". */
function recordingFanout() {
  const published: { topics: readonly string[]; frame: string }[] = []
  const controls: [string, string][] = []
  let sink: FanoutSink | null = null
  const fanout: Fanout = {
    shared: true,
    attach: (s) => {
      sink = s
    },
    publish: (topics, frame) => published.push({ topics, frame }),
    control: (name, arg) => controls.push([name, arg]),
    start() {},
    async close() {},
    status: () => createInProcessFanout().status(),
  }
  return {
    fanout,
    published,
    controls,
    get sink(): FanoutSink {
      if (!sink) throw new Error('not attached')
      return sink
    },
  }
}

const status = { type: 'status', session_id: 'cs_a', status: 'human', handoff_reason: null, closed_by: null } as const

describe('RealtimeHub in-process', () => {
  test('the default fan-out is in-process: not shared, always healthy', () => {
    const hub = new RealtimeHub()
    expect(hub.fanout.shared).toBe(false)
    expect(hub.fanout.status()).toMatchObject({ kind: 'in-process', receiving: true, sending: true, degradedSinceMs: null })
    const c = client()
    hub.subscribe(sessionTopic('cs_a'), c)
    expect(hub.publish([sessionTopic('cs_a'), siteTopic(1)], status)).toBe(1)
    expect(c.frames.map((f) => JSON.parse(f))).toEqual([status])
  })

  test('resync: the subscribers of the named topics, or every socket, get {"type":"resync"} once each', () => {
    const hub = new RealtimeHub()
    const visitor = client()
    const agent = client()
    const other = client()
    hub.subscribe(sessionTopic('cs_a'), visitor)
    hub.subscribe(siteTopic(1), agent)
    hub.subscribe(sessionTopic('cs_a'), agent)
    hub.subscribe(sessionTopic('cs_b'), other)
    expect(hub.resync([sessionTopic('cs_a')])).toBe(2)
    expect(visitor.frames).toEqual([RESYNC_FRAME])
    expect(agent.frames).toEqual([RESYNC_FRAME])
    expect(other.frames).toEqual([])
    expect(hub.resync(null)).toBe(3)
    expect([visitor.frames.length, agent.frames.length, other.frames.length]).toEqual([2, 2, 1])
    expect(JSON.parse(RESYNC_FRAME)).toEqual({ type: 'resync' })
  })

  test('resync drops a client that throws, from every topic', () => {
    const hub = new RealtimeHub()
    const broken = {
      send() {
        throw new Error('closed')
      },
    }
    hub.subscribe('a', broken)
    hub.subscribe('b', broken)
    hub.subscribe('b', client())
    hub.resync(null)
    expect([hub.count('a'), hub.count('b')]).toEqual([0, 1])
  })

  test('many sockets: the first 500 get the resync at once, the rest in later batches', async () => {
    const hub = new RealtimeHub()
    const clients = Array.from({ length: 1200 }, () => client())
    clients.forEach((c, i) => {
      hub.subscribe(sessionTopic(`cs_${i}`), c)
    })
    expect(hub.resync(null)).toBe(1200)
    expect(clients.filter((c) => c.frames.length === 1).length).toBe(500)
    await Bun.sleep(200)
    expect(clients.every((c) => c.frames.length === 1)).toBe(true)
  })

  test('a control message runs its handler here', () => {
    const hub = new RealtimeHub()
    const got: string[] = []
    hub.onControl('x', (arg) => got.push(arg))
    hub.control('x', 'one')
    hub.control('unknown', 'ignored')
    expect(got).toEqual(['one'])
  })
})

describe('RealtimeHub over a shared fan-out', () => {
  test('publish: one frame to the fan-out, the same frame to local subscribers once', () => {
    const rec = recordingFanout()
    const hub = new RealtimeHub(rec.fanout)
    const agent = client()
    hub.subscribe(siteTopic(1), agent)
    hub.subscribe(sessionTopic('cs_a'), agent)
    expect(hub.publish([sessionTopic('cs_a'), siteTopic(1)], status)).toBe(1)
    expect(rec.published).toEqual([{ topics: [sessionTopic('cs_a'), siteTopic(1)], frame: JSON.stringify(status) }])
    expect(agent.frames).toEqual([JSON.stringify(status)])
    // Published even when nobody here listens: the others may.
    expect(hub.publish([sessionTopic('cs_z')], status)).toBe(0)
    expect(rec.published.length).toBe(2)
  })

  test("another instance's frame reaches the local subscribers of its topics only, as sent", () => {
    const rec = recordingFanout()
    const hub = new RealtimeHub(rec.fanout)
    const a = client()
    const b = client()
    hub.subscribe(sessionTopic('cs_a'), a)
    hub.subscribe(sessionTopic('cs_b'), b)
    expect(rec.sink.deliver([sessionTopic('cs_a'), siteTopic(9)], '{"type":"x"}')).toBe(1)
    expect(a.frames).toEqual(['{"type":"x"}'])
    expect(b.frames).toEqual([])
    // Delivering is not publishing: nothing goes back out.
    expect(rec.published).toEqual([])
  })

  test('a control message runs here and goes to the others; one from elsewhere runs here only', () => {
    const rec = recordingFanout()
    const hub = new RealtimeHub(rec.fanout)
    const got: string[] = []
    hub.onControl('end', (arg) => got.push(arg))
    hub.control('end', 's1')
    expect(got).toEqual(['s1'])
    expect(rec.controls).toEqual([['end', 's1']])
    rec.sink.handleControl('end', 's2')
    expect(got).toEqual(['s1', 's2'])
    expect(rec.controls).toEqual([['end', 's1']])
  })
})
