/** The real server: /readyz with a live webhook worker, /metrics behind its token, request logs. */
import { afterAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers'
import { runCli, startServerProcess } from './server'

const root = tempDir('mlc-readyz-')
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('a running server', () => {
  test('/readyz is 200 with the worker alive and the queue figures; /metrics needs its token', async () => {
    const dir = join(root, 'a')
    const env = { ...process.env, MLC_METRICS_TOKEN: 'scrape-me' } as Record<string, string>
    const server = await startServerProcess(dir, { env })
    try {
      let body: any = null
      // The worker thread reports ready shortly after the listener opens.
      for (let i = 0; i < 100; i++) {
        const res = await fetch(`${server.url}/readyz`)
        body = await res.json()
        if (res.status === 200) break
        await Bun.sleep(50)
      }
      expect(body).toMatchObject({
        ok: true,
        data: { status: 'ready', database: { writable: true }, worker: { alive: true, queue_depth: 0, oldest_pending_age_ms: null } },
      })
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401)
      const res = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer scrape-me' } })
      expect(res.status).toBe(200)
      const text = await res.text()
      expect(text).toContain('mlc_webhook_worker_up 1')
      expect(text).toMatch(/mlc_http_requests_total\{resource="readyz",status="200"\} \d+/)
    } finally {
      expect(await server.stop()).toBe(0)
    }
  }, 30_000)

  test('request log lines: time, request id, method, path without secrets, status, duration, token id', async () => {
    const dir = join(root, 'b')
    const server = await startServerProcess(dir)
    try {
      const { token, id } = JSON.parse((await runCli(['token', 'create', '--site', '1', '--scopes', 'read', '--json'], { MLC_DATA_DIR: dir })).stdout)
      const res = await fetch(`${server.url}/v1/api.ashx?resource=tags&token=${token}`)
      expect(res.status).toBe(200)
      const rid = res.headers.get('x-mlc-request-id')
      await server.stop()
      const lines = server
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l))
      const line = lines.find((l) => l.request_id === rid)
      expect(line).toMatchObject({ level: 'info', msg: 'request', method: 'GET', status: 200, token_id: id })
      expect(line.path).toBe('/v1/api.ashx?resource=tags&token=REDACTED')
      expect(Number.isNaN(Date.parse(line.time))).toBe(false)
      expect(typeof line.duration_ms).toBe('number')
      expect(server.output()).not.toContain(token)
    } finally {
      await server.stop()
    }
  }, 30_000)

  test('every webhook attempt: one log line and one count by result', async () => {
    const dir = join(root, 'hooks')
    let answer = 500
    const rx = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('x', { status: answer }) })
    const env = { ...process.env, MLC_METRICS: '1', MLC_WEBHOOK_ALLOW_PRIVATE: '1' } as Record<string, string>
    const server = await startServerProcess(dir, { env })
    try {
      const { token } = JSON.parse((await runCli(['token', 'create', '--site', '1', '--scopes', 'read,write', '--json'], { MLC_DATA_DIR: dir })).stdout)
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
      const sub = (await (
        await fetch(`${server.url}/v1/webhook_subscriptions`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ url: `http://127.0.0.1:${rx.port}/in`, events: ['*'] }),
        })
      ).json()) as any
      const test = async () => (await fetch(`${server.url}/v1/webhook_subscriptions/${sub.data.id}?action=test`, { method: 'POST', headers })).json() as any
      expect((await test()).data.attempt.status_code).toBe(500)
      answer = 200
      expect((await test()).data.attempt.status_code).toBe(200)
      const metrics = await (await fetch(`${server.url}/metrics`)).text()
      expect(metrics).toContain('mlc_webhook_deliveries_total{result="failure"} 1')
      expect(metrics).toContain('mlc_webhook_deliveries_total{result="success"} 1')
    } finally {
      await server.stop()
      rx.stop(true)
    }
    const attempts = server
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"webhook attempt"'))
      .map((l) => JSON.parse(l))
    expect(attempts).toHaveLength(2)
    expect(attempts[0]).toMatchObject({ level: 'info', result: 'failure', attempt: 1, status_code: 500, subscription_id: expect.any(Number) })
    expect(attempts[1]).toMatchObject({ result: 'success', status_code: 200, status: 'succeeded' })
    for (const a of attempts) {
      expect(a.delivery_id).toEqual(expect.any(String))
      expect(a.duration_ms).toEqual(expect.any(Number))
    }
  }, 30_000)

  test('MLC_LOG_FORMAT=pretty writes readable lines; MLC_LOG_LEVEL=warn drops request lines', async () => {
    const pretty = await startServerProcess(join(root, 'c'), { env: { ...process.env, MLC_LOG_FORMAT: 'pretty' } as Record<string, string> })
    await fetch(`${pretty.url}/healthz`)
    await pretty.stop()
    expect(pretty.output()).toMatch(/^\d{4}-\d\d-\d\dT\S+Z INFO {2}request .*method=GET path=\/healthz status=200/m)
    expect(pretty.output()).not.toMatch(/^\{/m)

    const quiet = await startServerProcess(join(root, 'd'), { env: { ...process.env, MLC_LOG_LEVEL: 'warn' } as Record<string, string> })
    await fetch(`${quiet.url}/healthz`)
    await quiet.stop()
    expect(quiet.output()).not.toContain('"msg":"request"')
    expect(quiet.output()).not.toContain('"level":"info"')
  }, 30_000)
})
