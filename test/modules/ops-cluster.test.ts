/**
 * /readyz and /metrics of an instance behind a load balancer: /readyz reports the database and
 * Redis separately (Redis reported, never required: every instance shares it, and without it
 * limits fall back per instance), and /metrics labels every series with the instance's name
 * (MLC_INSTANCE_ID, or hostname:port with Redis; no label on a lone instance).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { hostname } from 'node:os'
import { loadConfig } from '../../src/config'
import { silentLogger } from '../../src/log'
import { MetricsRegistry } from '../../src/metrics/registry'
import { type RunningServer, startServer } from '../../src/server'
import { freePort, tempDir } from '../helpers'
import { TEST_REDIS_URL } from '../shared/redis-server'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A server on a temp SQLite data dir with /metrics open and `env` on top. */
async function serve(env: Record<string, string>): Promise<RunningServer> {
  const dir = tempDir('mlc-ops-cluster-')
  dirs.push(dir)
  const config = loadConfig({}, { MLC_DATA_DIR: dir, MLC_PORT: '0', MLC_HOST: '127.0.0.1', MLC_METRICS: '1', ...env })
  return startServer(config, { logger: silentLogger })
}

/** /readyz once the worker thread is up (it starts just after listening). */
async function readyz(server: RunningServer): Promise<{ status: number; body: any }> {
  let res: Response | null = null
  let body: any = null
  for (let i = 0; i < 100; i++) {
    res = await fetch(`${server.url}/readyz`)
    body = await res.json()
    if (res.status === 200) break
    await Bun.sleep(50)
  }
  return { status: res?.status ?? 0, body }
}

/** The sample lines of a scrape (no comments). */
async function scrape(server: RunningServer): Promise<string[]> {
  const text = await (await fetch(`${server.url}/metrics`)).text()
  return text.split('\n').filter((l) => l && !l.startsWith('#'))
}

describe('the metrics registry', () => {
  test('setInstance labels every series (counters, gauges, histogram buckets, sums, counts); recording is unchanged', () => {
    const r = new MetricsRegistry()
    const c = r.counter('x_total', 'x', ['kind'])
    r.gauge('g', 'g', [], () => [{ value: 3 }])
    const h = r.histogram('h_seconds', 'h', ['kind'], [0.1])
    c.inc(['a'])
    h.observe(['a'], 0.05)
    expect(r.render()).toContain('x_total{kind="a"} 1')
    r.setInstance('node-"a"')
    const lines = r
      .render()
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
    expect(lines).toEqual([
      'x_total{kind="a",instance="node-\\"a\\""} 1',
      'g{instance="node-\\"a\\""} 3',
      'h_seconds_bucket{kind="a",instance="node-\\"a\\"",le="0.1"} 1',
      'h_seconds_bucket{kind="a",instance="node-\\"a\\"",le="+Inf"} 1',
      'h_seconds_sum{kind="a",instance="node-\\"a\\""} 0.05',
      'h_seconds_count{kind="a",instance="node-\\"a\\""} 1',
    ])
    expect(c.get(['a'])).toBe(1)
    r.setInstance('')
    expect(r.render()).toContain('x_total{kind="a"} 1')
  })
})

describe('a lone instance (no MLC_REDIS_URL)', () => {
  test('/readyz: redis "not configured", instance null, the engine named; /metrics without an instance label', async () => {
    const server = await serve({})
    try {
      const { status, body } = await readyz(server)
      expect(status).toBe(200)
      expect(body.data).toMatchObject({ status: 'ready', instance: null, database: { writable: true, engine: 'sqlite' }, redis: 'not configured' })
      const lines = await scrape(server)
      expect(lines.some((l) => l.includes('instance='))).toBe(false)
      expect(lines.some((l) => l.startsWith('mlc_redis_up'))).toBe(false)
    } finally {
      await server.stop()
    }
  }, 30_000)

  test('MLC_INSTANCE_ID names it even without Redis', async () => {
    const server = await serve({ MLC_INSTANCE_ID: 'edge-1' })
    try {
      expect((await readyz(server)).body.data.instance).toBe('edge-1')
      const lines = await scrape(server)
      expect(lines.length).toBeGreaterThan(3)
      for (const line of lines) expect(line).toContain('instance="edge-1"')
    } finally {
      await server.stop()
    }
  }, 30_000)
})

describe('with MLC_REDIS_URL', () => {
  test('a Redis that does not answer: still ready (200), the reason under redis, mlc_redis_up 0, named hostname:port', async () => {
    // Nothing listens on this port: connections are refused.
    const port = await freePort()
    const server = await serve({ MLC_REDIS_URL: `redis://127.0.0.1:${port}` })
    try {
      const started = performance.now()
      const { status, body } = await readyz(server)
      expect(performance.now() - started).toBeLessThan(5000)
      expect(status).toBe(200)
      expect(body.data.redis).toContain('cannot connect')
      expect(body.data.database).toEqual({ writable: true, engine: 'sqlite' })
      expect(body.data.instance).toBe(`${hostname()}:${server.port}`)
      const lines = await scrape(server)
      expect(lines).toContain(`mlc_redis_up{instance="${hostname()}:${server.port}"} 0`)
      for (const line of lines) expect(line).toContain(`instance="${hostname()}:${server.port}"`)
    } finally {
      await server.stop()
    }
  }, 30_000)

  test.skipIf(!TEST_REDIS_URL)(
    'a Redis that answers: redis "ok", mlc_redis_up 1, every series labelled with MLC_INSTANCE_ID',
    async () => {
      const prefix = `mlc-ops-${Math.random().toString(36).slice(2, 10)}:`
      const server = await serve({ MLC_REDIS_URL: TEST_REDIS_URL, MLC_REDIS_KEY_PREFIX: prefix, MLC_INSTANCE_ID: 'node-a' })
      try {
        const { status, body } = await readyz(server)
        expect(status).toBe(200)
        expect(body.data).toMatchObject({ instance: 'node-a', redis: 'ok', database: { writable: true } })
        const lines = await scrape(server)
        expect(lines).toContain('mlc_redis_up{instance="node-a"} 1')
        expect(lines.find((l) => l.startsWith('mlc_http_requests_total{resource="readyz",status="200"'))).toMatch(/instance="node-a"\} \d+$/)
        for (const line of lines) expect(line).toContain('instance="node-a"')
      } finally {
        await server.stop()
      }
    },
    30_000,
  )
})
