/** Log lines never carry credentials: redactUrl on its own, and the access log of real requests. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createBufferedWriter, createLogger, redactUrl } from '../src/log'
import { createTestApp, type TestApp } from './helpers'

describe('redactUrl', () => {
  const cases: [string, string][] = [
    ['/v1/api.ashx?resource=tags&token=mlc_abc&limit=5', '/v1/api.ashx?resource=tags&token=REDACTED&limit=5'],
    ['/v1/tags?TOKEN=x', '/v1/tags?TOKEN=REDACTED'],
    // Percent-encoded names are the same parameter to the server, so they are to the log.
    ['/v1/tags?%74oken=mlc_secret', '/v1/tags?%74oken=REDACTED'],
    ['/v1/tags?%54%4F%4B%45%4E=mlc_secret&a=1', '/v1/tags?%54%4F%4B%45%4E=REDACTED&a=1'],
    ['/v1/tags?site%5Fkey=pk_x', '/v1/tags?site%5Fkey=REDACTED'],
    // The widget's anon_id is a visitor's credential.
    ['/v1/widget/ws?session_id=s1&site_key=pk_1&anon_id=a_secret', '/v1/widget/ws?session_id=s1&site_key=REDACTED&anon_id=REDACTED'],
    ['/v1/widget/sessions/x?%61non_id=a_secret', '/v1/widget/sessions/x?%61non_id=REDACTED'],
    ['/v1/x?identity_token=eyJ.x.y', '/v1/x?identity_token=REDACTED'],
    // A malformed escape in a name is compared as it stands, never thrown on.
    ['/v1/tags?%E0=1&token=t', '/v1/tags?%E0=1&token=REDACTED'],
    ['/v1/tags', '/v1/tags'],
    ['/v1/tags?limit=5&tokens=1', '/v1/tags?limit=5&tokens=1'],
  ]
  for (const [input, expected] of cases) {
    test(input, () => expect(redactUrl(input)).toBe(expected))
  }
})

describe('the access log of real requests', () => {
  let t: TestApp
  const lines: string[] = []
  beforeAll(async () => {
    t = await createTestApp({}, { logger: createLogger({ write: (l) => lines.push(l) }) })
  })
  afterAll(() => t.cleanup())

  test('a token sent as ?%74oken= authenticates and never reaches the log', async () => {
    const res = await t.app.handle(new Request(`http://localhost/v1/tags?%74oken=${t.writeToken}`))
    expect(res.status).toBe(200)
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.request_id === res.headers.get('x-mlc-request-id'))
    expect(line.path).toBe('/v1/tags?%74oken=REDACTED')
    expect(lines.join('\n')).not.toContain(t.writeToken)
  })

  test("a widget request's anon_id never reaches the log", async () => {
    const site = (await t.store.sites.byId(t.site1)) as { publishable_key: string }
    const anon = 'anon_secret_0123456789abcdef'
    const res = await t.app.handle(new Request(`http://localhost/v1/widget/sessions/none?site_key=${site.publishable_key}&anon_id=${anon}`))
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.request_id === res.headers.get('x-mlc-request-id'))
    expect(line.path).toContain('anon_id=REDACTED')
    expect(lines.join('\n')).not.toContain(anon)
    expect(lines.join('\n')).not.toContain(site.publishable_key)
  })
})

describe('createBufferedWriter', () => {
  test('lines wait for the interval and go out together, in order', async () => {
    const chunks: string[] = []
    const w = createBufferedWriter((c) => chunks.push(c), { flushMs: 30 })
    w.write('a')
    w.write('b')
    expect(chunks).toEqual([])
    await Bun.sleep(60)
    expect(chunks).toEqual(['a\nb'])
    w.write('c')
    w.flush()
    expect(chunks).toEqual(['a\nb', 'c'])
  })

  test('a full buffer is written at once', () => {
    const chunks: string[] = []
    const w = createBufferedWriter((c) => chunks.push(c), { flushMs: 60_000, maxLines: 3 })
    for (const l of ['1', '2', '3', '4']) w.write(l)
    expect(chunks).toEqual(['1\n2\n3'])
    w.close()
    expect(chunks).toEqual(['1\n2\n3', '4'])
  })

  test('flushing an empty buffer writes nothing', () => {
    const chunks: string[] = []
    const w = createBufferedWriter((c) => chunks.push(c))
    w.flush()
    expect(chunks).toEqual([])
  })
})

describe('the default logger on stdout', () => {
  /** Runs a script in a child process and returns its stdout lines. */
  async function run(script: string): Promise<string[]> {
    const proc = Bun.spawn([process.execPath, '-e', script], { cwd: new URL('..', import.meta.url).pathname, stdout: 'pipe', stderr: 'pipe' })
    const out = await new Response(proc.stdout).text()
    await proc.exited
    return out.split('\n').filter(Boolean)
  }

  test('access-log lines are batched; any other line flushes them first (order kept); exit writes the rest', async () => {
    const lines = await run(`
      import { createLogger } from './src/log'
      const log = createLogger({ flushMs: 60000 })
      log.info('request', { n: 1 }); log.info('request', { n: 2 })
      process.stdout.write('{"msg":"marker"}\\n')
      log.info('listening')
      log.info('request', { n: 3 })
      process.stdout.write('{"msg":"marker2"}\\n')
      log.warn('slow')
      log.info('request', { n: 4 })
    `)
    expect(lines.map((l) => JSON.parse(l).msg + (JSON.parse(l).n ?? ''))).toEqual([
      'marker',
      'request1',
      'request2',
      'listening',
      'marker2',
      'request3',
      'slow',
      'request4',
    ])
  })
})

describe('which lines wait for a batch', () => {
  test('request and webhook attempt lines wait; any other line sends them first and goes out at once', () => {
    const calls: string[] = []
    const log = createLogger({
      flushMs: 60_000,
      sink: { post: (chunk) => calls.push(`batch ${chunk}`), drain: () => calls.push('drain'), writeNow: (line) => calls.push(`now ${JSON.parse(line).msg}`) },
    })
    log.access({ request_id: 'a', method: 'GET', path: '/', status: 200, duration_ms: 1, token_id: null, ip: '::1' })
    log.info('webhook attempt', { result: 'success' })
    log.info('request', { n: 2 })
    expect(calls).toEqual([])
    log.warn('slow')
    expect(calls).toHaveLength(2)
    expect(calls[0]?.split('\n').map((l) => JSON.parse(l.replace(/^batch /, '')).msg)).toEqual(['request', 'webhook attempt', 'request'])
    expect(calls[1]).toBe('now slow')
  })
})

describe('the default logger with its writer thread running', () => {
  test('10,000 request lines and an exit: every line is out, in order, after the start-up line', async () => {
    const proc = Bun.spawn(
      [
        process.execPath,
        '-e',
        `
        import { createLogger } from './src/log'
        const log = createLogger({ flushMs: 60000 })
        log.info('listening')
        const line = (n) => ({ request_id: String(n), method: 'GET', path: '/v1/tags', status: 200, duration_ms: 0.1, token_id: 1, ip: '127.0.0.1' })
        for (let n = 0; n < 5000; n++) log.access(line(n))
        await Bun.sleep(300)
        for (let n = 5000; n < 10000; n++) log.access(line(n))
        process.exit(0)
      `,
      ],
      { cwd: new URL('..', import.meta.url).pathname, stdout: 'pipe', stderr: 'pipe' },
    )
    const out = await new Response(proc.stdout).text()
    expect(await proc.exited).toBe(0)
    const lines = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
    expect(lines[0].msg).toBe('listening')
    expect(lines.slice(1).map((l) => l.request_id)).toEqual(Array.from({ length: 10000 }, (_, n) => String(n)))
    expect(out).not.toContain('access log written on the request thread')
  })
})

describe('logger.access', () => {
  test('writes exactly the line info("request", fields) writes, for awkward values too', () => {
    const cases = [
      { request_id: '01a2', method: 'GET', path: '/v1/tags?token=REDACTED', status: 200, duration_ms: 0.46, token_id: 3, ip: '203.0.113.9' },
      { request_id: null, method: 'POST', path: '/v1/"quoted"\\path\n\u2028', status: 400, duration_ms: 12, token_id: null, ip: '::1' },
    ]
    for (const fields of cases) {
      const viaAccess: string[] = []
      const viaInfo: string[] = []
      createLogger({ write: (l) => viaAccess.push(l) }).access(fields)
      createLogger({ write: (l) => viaInfo.push(l) }).info('request', fields)
      const a = JSON.parse(viaAccess[0] as string)
      const b = JSON.parse(viaInfo[0] as string)
      // The time may differ by a millisecond between the two calls; everything else is byte-identical.
      expect(viaAccess[0]?.replace(/"time":"[^"]+"/, '')).toBe(viaInfo[0]?.replace(/"time":"[^"]+"/, '') as string)
      expect(Math.abs(Date.parse(a.time) - Date.parse(b.time))).toBeLessThan(50)
    }
  })

  test('is dropped below info, and written in the readable form with MLC_LOG_FORMAT=pretty', () => {
    const fields = { request_id: 'x', method: 'GET', path: '/', status: 200, duration_ms: 1, token_id: null, ip: '1.2.3.4' }
    const quiet: string[] = []
    createLogger({ level: 'warn', write: (l) => quiet.push(l) }).access(fields)
    expect(quiet).toEqual([])
    const pretty: string[] = []
    createLogger({ format: 'pretty', write: (l) => pretty.push(l) }).access(fields)
    expect(pretty[0]).toContain('INFO  request request_id=x method=GET path=/ status=200')
  })
})
