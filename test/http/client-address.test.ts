/**
 * The client address behind a proxy (MLC_TRUST_PROXY): the rightmost X-Forwarded-For entry keys the
 * per-IP limits and the log line; without the option the header is ignored, so a client cannot
 * pick its own key.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { forwardedFor } from '../../src/http/client-address'
import { createLogger } from '../../src/log'
import { createTestApp, type TestApp } from '../helpers'

describe('forwardedFor', () => {
  const cases: [string | null, string | null][] = [
    ['198.51.100.7', '198.51.100.7'],
    // The client may write anything left of what the proxy appended.
    ['1.1.1.1, 10.0.0.1, 198.51.100.7', '198.51.100.7'],
    [' 203.0.113.1 ,198.51.100.7 ', '198.51.100.7'],
    ['2001:db8::7', '2001:db8::7'],
    ['[2001:db8::7]:4431', '2001:db8::7'],
    ['198.51.100.7:5555', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    // Not an address: fall back to the socket peer rather than trust garbage.
    ['198.51.100.7, unknown', null],
    ['0x7f.1', null],
    ['1.2.3', null],
    ['', null],
    [null, null],
  ]
  for (const [header, expected] of cases) test(String(header), () => expect(forwardedFor(header)).toBe(expected))
})

/** Fails authentication from `forwarded` (as the proxy at 127.0.0.1 reports it) until refused. */
async function failUntilLimited(t: TestApp, forwarded: string): Promise<number> {
  for (let i = 0; i < 40; i++) {
    const res = await t.call('GET', '/v1/tags', { token: `mlc_guess${i}`, headers: { 'x-forwarded-for': `10.9.9.${i}, ${forwarded}` } })
    if (res.status === 429) return i
  }
  return -1
}

describe('with MLC_TRUST_PROXY=1 (every request arrives from the proxy at 127.0.0.1)', () => {
  let t: TestApp
  const lines: string[] = []
  beforeAll(async () => {
    t = await createTestApp({ MLC_TRUST_PROXY: '1', MLC_AUTH_FAILURES_PER_MINUTE: '5' }, { logger: createLogger({ write: (l) => lines.push(l) }) })
  })
  afterAll(() => t.cleanup())

  test('failed authentications are limited per forwarded client, not for everyone behind the proxy', async () => {
    expect(await failUntilLimited(t, '198.51.100.1')).toBe(5)
    // The attacker is refused even with the right token ...
    const attacker = await t.call('GET', '/v1/tags', { headers: { 'x-forwarded-for': '198.51.100.1' } })
    expect(attacker.status).toBe(429)
    // ... while another client behind the same proxy is served.
    const other = await t.call('GET', '/v1/tags', { headers: { 'x-forwarded-for': '198.51.100.2' } })
    expect(other.status).toBe(200)
  })

  test('the access log names the forwarded client', async () => {
    const res = await t.call('GET', '/v1/tags', { headers: { 'x-forwarded-for': '5.6.7.8, 198.51.100.3' } })
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.request_id === res.body.request_id)
    expect(line.ip).toBe('198.51.100.3')
  })

  test('a request without the header keys on the socket peer', async () => {
    const res = await t.call('GET', '/v1/tags')
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.request_id === res.body.request_id)
    expect(line.ip).toBe('127.0.0.1')
  })
})

describe('without MLC_TRUST_PROXY', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp({ MLC_AUTH_FAILURES_PER_MINUTE: '5' })
  })
  afterAll(() => t.cleanup())

  test('X-Forwarded-For is ignored: changing it does not escape the per-IP limit', async () => {
    expect(await failUntilLimited(t, '198.51.100.1')).toBe(5)
    const spoofed = await t.call('GET', '/v1/tags', { headers: { 'x-forwarded-for': '198.51.100.99' } })
    expect(spoofed.status).toBe(429)
  })
})
