/**
 * scripts/bench/wrk.ts and wrk.lua: the bench's load generator. Real wrk against a Bun.serve in
 * this process on loopback: fresh ids in every body, method and headers as asked, a paced rate,
 * latencies in ms, and errors (HTTP and socket) counted rather than hidden.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { errorNote } from '../../../scripts/bench/lib'
import { load, parseWrkOutput } from '../../../scripts/bench/wrk'
import { freePort } from '../../helpers'

interface Seen {
  method: string
  body: string
  header: string | null
}

const seen: Seen[] = []
let slowMs = 0
let failEvery = 0
let n = 0
const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  async fetch(req) {
    seen.push({ method: req.method, body: await req.text(), header: req.headers.get('x-bench') })
    if (slowMs) await Bun.sleep(slowMs)
    n++
    return new Response('{"ok":true}', { status: failEvery && n % failEvery === 0 ? 503 : 200 })
  },
})
const url = `http://127.0.0.1:${server.port}/v1/track`
afterAll(() => server.stop(true))

/** Resets what the server records and how it answers. */
function reset(opts: { slowMs?: number; failEvery?: number } = {}) {
  seen.length = 0
  n = 0
  slowMs = opts.slowMs ?? 0
  failEvery = opts.failEvery ?? 0
}

describe('bench load generator (wrk)', () => {
  test('POST bodies get a fresh id per request, the same id at every placeholder; runs never share ids', async () => {
    const template = '{"key":"u_[<id>]","event_id":"[<id>]"}'
    const ids: string[][] = []
    for (let run = 0; run < 2; run++) {
      reset()
      const r = await load('fresh ids', url, { seconds: 1, connections: 4, method: 'POST', body: template, headers: { 'x-bench': 'yes' } })
      expect(r.total).toBeGreaterThan(100)
      expect(r.errors + r.httpErrors).toBe(0)
      expect(seen.length).toBeGreaterThanOrEqual(r.total)
      const runIds = seen.map((s) => {
        expect(s.method).toBe('POST')
        expect(s.header).toBe('yes')
        const m = /^\{"key":"u_([^"]+)","event_id":"([^"]+)"\}$/.exec(s.body)
        expect(m).not.toBeNull()
        expect(m?.[1]).toBe(m?.[2] as string)
        return m?.[2] as string
      })
      expect(new Set(runIds).size).toBe(runIds.length)
      ids.push(runIds)
    }
    const first = new Set(ids[0])
    expect(ids[1]?.some((id) => first.has(id))).toBe(false)
  })

  test('a body without a placeholder is sent unchanged', async () => {
    reset()
    await load('fixed body', url, { seconds: 1, connections: 2, method: 'POST', body: '{"a":1}' })
    expect(seen.length).toBeGreaterThan(10)
    expect(new Set(seen.map((s) => s.body))).toEqual(new Set(['{"a":1}']))
  })

  test('a fixed rate is kept (200 req/s for 2 s), with nothing sent late', async () => {
    reset()
    const r = await load('paced', url, { seconds: 2, rate: 200 })
    expect(r.total).toBeGreaterThanOrEqual(360)
    expect(r.total).toBeLessThanOrEqual(440)
    expect(seen.length).toBeLessThanOrEqual(440)
    expect(r.late).toBe(0)
  })

  test('latencies are reported in milliseconds', async () => {
    reset({ slowMs: 20 })
    const r = await load('slow', url, { seconds: 1, connections: 4 })
    expect(r.p50).toBeGreaterThanOrEqual(19)
    expect(r.p50).toBeLessThan(200)
    expect(r.p99).toBeGreaterThanOrEqual(r.p50)
    expect(r.requestsPerSec).toBeLessThanOrEqual(4 * 52)
  })

  test('responses over 399 are counted and named in the section', async () => {
    reset({ failEvery: 2 })
    const r = await load('half fail', url, { seconds: 1, connections: 2 })
    expect(r.httpErrors).toBeGreaterThan(0)
    expect(Math.abs(r.httpErrors - r.total / 2)).toBeLessThanOrEqual(2)
    expect(errorNote([r])).toContain(`half fail: ${r.httpErrors} responses over 399 and 0 socket errors in ${r.total} responses`)
  })

  test('socket errors are counted (the server hangs up on every connection)', async () => {
    const rude = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { open: (socket) => void socket.end(), data: () => {} } })
    try {
      const r = await load('hung up', `http://127.0.0.1:${rude.port}/`, { seconds: 1, connections: 2 })
      expect(r.total).toBe(0)
      expect(r.errors).toBeGreaterThan(0)
      expect(errorNote([r])).toBe(
        `**This section had errors** (its figures are suspect): hung up: 0 responses over 399 and ${r.errors} socket errors in 0 responses.`,
      )
    } finally {
      rude.stop(true)
    }
  })

  test('a server that is not there fails the run', async () => {
    await expect(load('refused', `http://127.0.0.1:${freePort()}/`, { seconds: 1 })).rejects.toThrow('Connection refused')
  })

  test('only loopback is loaded', async () => {
    await expect(load('elsewhere', 'http://192.0.2.1/', { seconds: 1 })).rejects.toThrow('loopback only')
  })

  test('output without the result line is an error, not zeros', () => {
    expect(() => parseWrkOutput('x', 'Running 1s test @ http://127.0.0.1/\n')).toThrow('printed no result')
  })
})
