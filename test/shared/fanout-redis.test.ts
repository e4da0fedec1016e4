/**
 * The Redis fan-out (src/shared/fanout-redis.ts) between two "instances" (two hubs, each with its
 * own Redis handle, one key prefix): frames cross once and only to their topics, the publisher's
 * own sockets get them once, control messages cross; and what a Redis of the test's own that is
 * stopped and restarted, frozen, or down at start does: local delivery never stops, the sockets
 * that may have missed something get {"type":"resync"}, and delivery across instances resumes
 * within seconds.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { RESYNC_FRAME, RealtimeHub, sessionTopic, siteTopic } from '../../src/chat/realtime'
import { systemClock } from '../../src/clock'
import { loadConfig } from '../../src/config'
import { createLogger } from '../../src/log'
import { createRedisFanout, type RedisFanoutOptions } from '../../src/shared/fanout-redis'
import { openRedis, type SharedRedis } from '../../src/shared/redis'
import { HAVE_REDIS_SERVER, OwnRedis, TEST_REDIS_URL, testKeyPrefix } from './redis-server'

function client() {
  const frames: string[] = []
  return { frames, send: (d: string) => frames.push(d) }
}

/** Waits until `check` holds, polling every 20 ms, up to `ms`; resolves with the time it took. */
async function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<number> {
  const started = performance.now()
  while (!check()) {
    if (performance.now() - started > ms) throw new Error(`${what} not met within ${ms} ms`)
    await Bun.sleep(20)
  }
  return performance.now() - started
}

interface Instance {
  redis: SharedRedis
  hub: RealtimeHub
  logs: string[]
  close(): Promise<void>
}

/** One "instance": a Redis handle of its own and a hub over a Redis fan-out. */
async function instance(url: string, prefix: string, tuning: Partial<RedisFanoutOptions> = {}): Promise<Instance> {
  const logs: string[] = []
  const logger = createLogger({ write: (line) => logs.push(line), level: 'info', flushMs: 1 })
  const redis = await openRedis(loadConfig({}, { MLC_REDIS_URL: url, MLC_REDIS_KEY_PREFIX: prefix }), { logger })
  const fanout = createRedisFanout({ redis, clock: systemClock, logger, ...tuning })
  const hub = new RealtimeHub(fanout)
  fanout.start()
  return {
    redis,
    hub,
    logs,
    async close() {
      await fanout.close()
      await redis.close()
    },
  }
}

const message = (id: number) => ({ type: 'message', session_id: 'cs_a', message: { id, text: `m${id}` } }) as const
const framesOf = (c: { frames: string[] }) => c.frames.filter((f) => f !== RESYNC_FRAME).map((f) => JSON.parse(f).message?.id)

describe.skipIf(!TEST_REDIS_URL)('Redis fan-out on the shared Redis', () => {
  const prefix = testKeyPrefix('fanout')
  let one: Instance
  let two: Instance
  beforeAll(async () => {
    one = await instance(TEST_REDIS_URL, prefix)
    two = await instance(TEST_REDIS_URL, prefix)
    await until(() => one.hub.fanout.status().receiving && two.hub.fanout.status().receiving, 5000, 'both subscribed')
  })
  afterAll(async () => {
    await one.close()
    await two.close()
  })

  test('an event published on one instance reaches the subscribers of its topics on both, once each', async () => {
    const visitorOnOne = client()
    const agentOnTwo = client()
    const agentOnBoth = [client(), client()]
    const otherSession = client()
    one.hub.subscribe(sessionTopic('cs_a'), visitorOnOne)
    two.hub.subscribe(siteTopic(1), agentOnTwo)
    two.hub.subscribe(sessionTopic('cs_b'), otherSession)
    one.hub.subscribe(siteTopic(1), agentOnBoth[0] as never)
    two.hub.subscribe(siteTopic(1), agentOnBoth[1] as never)
    two.hub.subscribe(sessionTopic('cs_a'), agentOnBoth[1] as never)

    one.hub.publish([sessionTopic('cs_a'), siteTopic(1)], message(1))
    two.hub.publish([sessionTopic('cs_a'), siteTopic(1)], message(2))
    await until(() => framesOf(visitorOnOne).length >= 2 && framesOf(agentOnTwo).length >= 2, 2000, 'delivery')
    await Bun.sleep(100)
    expect(framesOf(visitorOnOne).sort()).toEqual([1, 2])
    expect(framesOf(agentOnTwo).sort()).toEqual([1, 2])
    // Subscribed to both topics of the event: still once.
    expect(framesOf(agentOnBoth[0] as never).sort()).toEqual([1, 2])
    expect(framesOf(agentOnBoth[1] as never).sort()).toEqual([1, 2])
    expect(otherSession.frames).toEqual([])
  })

  test('a burst keeps its order on the other instance; heartbeats never reach a socket', async () => {
    const far = client()
    two.hub.subscribe(sessionTopic('cs_burst'), far)
    const ids = Array.from({ length: 300 }, (_, i) => i + 1)
    for (const id of ids) one.hub.publish([sessionTopic('cs_burst')], { ...message(id), session_id: 'cs_burst' })
    await until(() => far.frames.length >= ids.length, 5000, 'burst')
    // A few heartbeats pass meanwhile.
    await Bun.sleep(1200)
    expect(far.frames.map((f) => JSON.parse(f).message.id)).toEqual(ids)
  })

  test('a control message runs on every instance', async () => {
    const got: string[] = []
    one.hub.onControl('test-end', (arg) => got.push(`one:${arg}`))
    two.hub.onControl('test-end', (arg) => got.push(`two:${arg}`))
    one.hub.control('test-end', 'sess 1\nwith newline')
    await until(() => got.length >= 2, 2000, 'control')
    await Bun.sleep(50)
    expect(got.sort()).toEqual(['one:sess 1\nwith newline', 'two:sess 1\nwith newline'])
  })

  test('status: receiving and sending, nothing dropped', () => {
    const s = one.hub.fanout.status()
    expect(s).toMatchObject({ kind: 'redis', receiving: true, sending: true, degradedSinceMs: null, dropped: 0 })
    expect(s.published).toBeGreaterThan(300)
    expect(two.hub.fanout.status().received).toBeGreaterThan(300)
  })
})

describe.skipIf(!HAVE_REDIS_SERVER)('Redis fan-out on a Redis of its own', () => {
  const server = new OwnRedis()
  const prefix = testKeyPrefix('fanout-own')
  let one: Instance
  let two: Instance
  beforeAll(async () => {
    await server.start()
    one = await instance(server.url, prefix)
    two = await instance(server.url, prefix)
    await until(() => one.hub.fanout.status().receiving && two.hub.fanout.status().receiving, 5000, 'both subscribed')
  })
  afterAll(async () => {
    await one.close()
    await two.close()
    await server.stop()
  })

  test('Redis stopped and restarted: local delivery goes on, the far side resyncs, delivery resumes within seconds', async () => {
    const visitorOnOne = client()
    const agentOnTwo = client()
    one.hub.subscribe(sessionTopic('cs_r'), visitorOnOne)
    two.hub.subscribe(siteTopic(7), agentOnTwo)
    const topics = [sessionTopic('cs_r'), siteTopic(7)]
    one.hub.publish(topics, message(1))
    await until(() => agentOnTwo.frames.length === 1, 2000, 'first delivery')

    await server.stop()
    await until(() => !one.redis.available, 3000, 'redis seen down')
    // Published while Redis is down: this instance's socket has it at once, the other cannot.
    one.hub.publish(topics, message(2))
    expect(framesOf(visitorOnOne)).toEqual([1, 2])
    await until(() => one.hub.fanout.status().sending === false && one.hub.fanout.status().degradedSinceMs !== null, 3000, 'degraded')
    await until(() => two.hub.fanout.status().receiving === false, 3000, 'receiver sees the gap')

    await server.start()
    const restarted = performance.now()
    // The far socket is told to re-read (it missed message 2), then events flow again.
    await until(() => agentOnTwo.frames.includes(RESYNC_FRAME), 8000, 'resync frame')
    const resyncAfter = performance.now() - restarted
    let n = 3
    await until(
      () => {
        one.hub.publish(topics, message(n++))
        return framesOf(agentOnTwo).some((id) => id >= 3)
      },
      8000,
      'delivery after restart',
    )
    const deliveryAfter = performance.now() - restarted
    expect(resyncAfter).toBeLessThan(5000)
    expect(deliveryAfter).toBeLessThan(5000)
    expect(framesOf(agentOnTwo)).not.toContain(2)
    await until(() => one.hub.fanout.status().sending && two.hub.fanout.status().receiving, 5000, 'healthy again')
    expect(two.hub.fanout.status().degradedSinceMs).toBeNull()
    // The log says what happened, once each way.
    expect(one.logs.join('\n')).toContain('live chat fan-out cannot publish to redis')
    expect(one.logs.join('\n')).toContain('live chat fan-out publishes to redis again')
    expect(two.logs.join('\n')).toContain('live chat fan-out receives from redis again')
  }, 40_000)

  test('Redis frozen for 3 s: local delivery goes on; after the thaw the far side resyncs and delivery resumes', async () => {
    const visitorOnOne = client()
    const agentOnTwo = client()
    one.hub.subscribe(sessionTopic('cs_f'), visitorOnOne)
    two.hub.subscribe(siteTopic(8), agentOnTwo)
    const topics = [sessionTopic('cs_f'), siteTopic(8)]
    one.hub.publish(topics, message(1))
    await until(() => agentOnTwo.frames.length === 1, 2000, 'first delivery')
    server.freeze()
    try {
      await Bun.sleep(200)
      one.hub.publish(topics, message(2))
      expect(framesOf(visitorOnOne)).toEqual([1, 2])
      await Bun.sleep(3000)
    } finally {
      server.thaw()
    }
    const thawed = performance.now()
    await until(() => agentOnTwo.frames.includes(RESYNC_FRAME), 8000, 'resync frame')
    let n = 3
    await until(
      () => {
        one.hub.publish(topics, message(n++))
        return framesOf(agentOnTwo).some((id) => id >= 3)
      },
      8000,
      'delivery after thaw',
    )
    expect(performance.now() - thawed).toBeLessThan(6000)
  }, 40_000)
})

describe.skipIf(!HAVE_REDIS_SERVER)('Redis fan-out while Redis is down at start', () => {
  test('each instance serves its own sockets; once Redis answers they subscribe, resync and exchange events', async () => {
    const server = new OwnRedis()
    const prefix = testKeyPrefix('fanout-late')
    const one = await instance(server.url, prefix)
    const two = await instance(server.url, prefix)
    try {
      const local = client()
      const far = client()
      one.hub.subscribe(sessionTopic('cs_l'), local)
      two.hub.subscribe(sessionTopic('cs_l'), far)
      expect(one.hub.publish([sessionTopic('cs_l')], message(1))).toBe(1)
      expect(framesOf(local)).toEqual([1])
      expect(one.hub.fanout.status()).toMatchObject({ receiving: false, sending: false })

      await server.start()
      const started = performance.now()
      await until(() => far.frames.includes(RESYNC_FRAME), 15_000, 'resync after the late start')
      let n = 2
      await until(
        () => {
          one.hub.publish([sessionTopic('cs_l')], message(n++))
          return framesOf(far).length > 0
        },
        10_000,
        'delivery after the late start',
      )
      expect(performance.now() - started).toBeLessThan(5000)
      await until(() => one.hub.fanout.status().receiving && two.hub.fanout.status().receiving, 5000, 'both subscribed')
    } finally {
      await one.close()
      await two.close()
      await server.stop()
    }
  }, 40_000)
})
