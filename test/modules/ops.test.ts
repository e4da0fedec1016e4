/** /readyz refusals and /metrics: off by default, open with MLC_METRICS=1, bearer-guarded with MLC_METRICS_TOKEN. */

import { Database } from 'bun:sqlite'
import { afterEach, describe, expect, test } from 'bun:test'
import { databasePath } from '../../src/db/data-dir'
import { createTestApp, expectError, TEST_ENGINE, type TestApp } from '../helpers'

let t: TestApp
afterEach(() => t?.cleanup())

/**
 * Another process holding the SQLite write lock for `ms`, as a CLI command mid-commit would.
 * Resolves once the lock is held; `done` once it is released.
 */
async function holdWriteLockElsewhere(dataDir: string, ms: number): Promise<{ done: Promise<number> }> {
  const script = `const db = new (require('bun:sqlite').Database)(${JSON.stringify(databasePath(dataDir))})
db.exec('BEGIN IMMEDIATE')
console.log('locked')
setTimeout(() => { db.exec('COMMIT'); db.close() }, ${ms})`
  const proc = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe', stderr: 'inherit' })
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
  let out = ''
  while (!out.includes('locked')) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`the lock holder exited before taking the lock: ${out}`)
    out += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  return { done: proc.exited }
}

describe('GET /readyz', () => {
  test('without a webhook worker it answers 503 unavailable, naming the worker', async () => {
    t = await createTestApp()
    const res = await t.call('GET', '/readyz', { token: null })
    expectError(res, 503, 'unavailable')
    expect(res.body.error.message).toContain('webhook worker not running')
    expect(res.headers.get('retry-after')).toBe('5')
  })

  // SQLite only: another connection to the database file holds its write lock, and the message names SQLite's code.
  test.skipIf(TEST_ENGINE !== 'sqlite')('a database locked by another connection is reported within a fraction of a second', async () => {
    t = await createTestApp()
    const other = new Database(databasePath(t.dataDir))
    other.exec('BEGIN EXCLUSIVE')
    try {
      const started = performance.now()
      const res = await t.call('GET', '/readyz', { token: null })
      expect(performance.now() - started).toBeLessThan(1500)
      expectError(res, 503, 'unavailable')
      expect(res.body.error.message).toContain('database not writable: locked by another connection (SQLITE_BUSY)')
    } finally {
      other.exec('ROLLBACK')
      other.close()
    }
    // The probe restored the connection's usual busy timeout: a write waits out a lock held
    // elsewhere for a moment (the probe's own 0 ms would refuse it at once).
    const holder = await holdWriteLockElsewhere(t.dataDir, 300)
    expect((await t.call('POST', '/v1/tags', { body: { name: 'after-the-probe', color: '#2563eb' } })).status).toBe(201)
    expect(await holder.done).toBe(0)
  })

  // SQLite only: another connection to the database file holds its write lock.
  test.skipIf(TEST_ENGINE !== 'sqlite')('a lock released while the probe waits is no failure, and other requests are answered meanwhile', async () => {
    t = await createTestApp()
    const other = new Database(databasePath(t.dataDir))
    other.exec('BEGIN IMMEDIATE') // the webhook thread or a CLI command, mid-commit
    // Released by this same thread: only possible if the probe waits without blocking the event loop.
    const release = setTimeout(() => other.exec('COMMIT'), 60)
    try {
      const probe = t.call('GET', '/readyz', { token: null })
      const health = await t.call('GET', '/healthz', { token: null })
      expect(health.status).toBe(200)
      expect(other.inTransaction).toBe(true) // answered while the lock was still held
      const res = await probe
      // 503 only for the missing worker (no worker in this test app), not for the database.
      expect(res.body.error.message).not.toContain('database not writable')
      expect(res.body.error.message).toContain('webhook worker not running')
    } finally {
      clearTimeout(release)
      if (other.inTransaction) other.exec('ROLLBACK')
      other.close()
    }
  })

  test('while draining for shutdown it answers 503', async () => {
    t = await createTestApp()
    t.app.lifecycle.draining = true
    const res = await t.call('GET', '/readyz', { token: null })
    expectError(res, 503, 'unavailable')
    expect(res.body.error.message).toContain('shutting down')
  })

  test('is in the OpenAPI document with its 200 schema and 503', async () => {
    t = await createTestApp()
    const doc = (await t.call('GET', '/v1/openapi.json', { token: null })).body
    const op = doc.paths['/readyz'].get
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '503']))
    expect(JSON.stringify(op.responses['200'])).toContain('oldest_pending_age_ms')
  })
})

/** Sample value of one series in a Prometheus text body. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('GET /metrics', () => {
  test('is off by default: 404 like any unknown path', async () => {
    t = await createTestApp()
    expectError(await t.call('GET', '/metrics', { token: null }), 404, 'not_found')
  })

  test('MLC_METRICS=1: requests by resource and status, latency, 429s, queue gauges', async () => {
    t = await createTestApp({ MLC_METRICS: '1' })
    await t.call('GET', '/v1/tags')
    await t.call('GET', '/v1/api.ashx?resource=tags')
    await t.call('GET', '/v1/tags', { token: null })
    await t.call('GET', '/v1/nonsense')
    await t.call('GET', '/wp-login.php')
    await t.call('GET', '/dashboard/', { token: null })
    // Exhaust the failed-auth limit (30 per minute per IP) to produce 429s.
    for (let i = 0; i < 32; i++) await t.call('GET', '/v1/tags', { token: 'mlc_wrong', ip: '10.0.0.9' })
    const res = await t.request('GET', '/metrics', { token: null })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const text = await res.text()
    expect(sample(text, 'mlc_http_requests_total{resource="tags",status="200"}')).toBe(2)
    expect(sample(text, 'mlc_http_requests_total{resource="tags",status="401"}')).toBe(31)
    expect(sample(text, 'mlc_http_requests_total{resource="tags",status="429"}')).toBe(2)
    expect(sample(text, 'mlc_http_requests_total{resource="unmatched",status="404"}')).toBe(2)
    expect(sample(text, 'mlc_rate_limit_rejections_total{resource="tags"}')).toBe(2)
    // The dashboard is served outside the router and still has its own label.
    expect(sample(text, 'mlc_http_requests_total{resource="dashboard",status="303"}')).toBe(1)
    expect(sample(text, 'mlc_http_request_duration_seconds_count{resource="tags"}')).toBe(35)
    expect(sample(text, 'mlc_http_request_duration_seconds_bucket{resource="tags",le="+Inf"}')).toBe(35)
    expect(sample(text, 'mlc_webhook_queue_depth')).toBe(0)
    expect(sample(text, 'mlc_webhook_worker_up')).toBe(0)
    expect(sample(text, 'mlc_webhook_oldest_pending_age_seconds')).toBe(0)
    expect(text).toContain('# TYPE mlc_http_request_duration_seconds histogram')
    expect(text).toContain('# TYPE mlc_webhook_deliveries_total counter')
    expect(text).toContain('# TYPE mlc_bot_replies_total counter')
    expect(text).toContain('# TYPE mlc_bot_tokens_total counter')
    expect(sample(text, 'mlc_process_resident_memory_bytes')).toBeGreaterThan(1_000_000)
  })

  test('series other modules record through deps.metrics show up', async () => {
    t = await createTestApp({ MLC_METRICS: '1' })
    t.app.metrics.botReplies.inc(['rules', 'answered'])
    t.app.metrics.botTokens.inc(['rules', 'output'], 42)
    t.app.metrics.webhookDeliveries.inc(['success'])
    const text = await (await t.request('GET', '/metrics', { token: null })).text()
    expect(sample(text, 'mlc_bot_replies_total{provider="rules",outcome="answered"}')).toBe(1)
    expect(sample(text, 'mlc_bot_tokens_total{provider="rules",kind="output"}')).toBe(42)
    expect(sample(text, 'mlc_webhook_deliveries_total{result="success"}')).toBe(1)
  })

  test('MLC_METRICS_TOKEN: 401 without or with a wrong bearer, 200 with the right one; API tokens do not open it', async () => {
    t = await createTestApp({ MLC_METRICS_TOKEN: 'scrape-secret-123' })
    expectError(await t.call('GET', '/metrics', { token: null }), 401, 'unauthorized')
    expectError(await t.call('GET', '/metrics', { token: 'scrape-secret-12' }), 401, 'unauthorized')
    expectError(await t.call('GET', '/metrics', { token: t.writeToken }), 401, 'unauthorized')
    const ok = await t.request('GET', '/metrics', { token: 'scrape-secret-123' })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('mlc_http_requests_total')
  })

  test('the metrics path is not in the OpenAPI document', async () => {
    t = await createTestApp({ MLC_METRICS: '1' })
    const doc = (await t.call('GET', '/v1/openapi.json', { token: null })).body
    expect(doc.paths['/metrics']).toBeUndefined()
  })
})
