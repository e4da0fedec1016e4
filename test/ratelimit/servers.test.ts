/**
 * Shared rate limits end to end: two server processes (`mlc serve` from source) on one PostgreSQL
 * database and one Redis, a token and a site limit made with the CLI, requests alternating between
 * the two: exactly the site's limit passes, with one countdown in the headers. A third server whose
 * Redis does not answer at all still starts, serves API requests within the deadline from its own
 * buckets, refuses dashboard sign-in with 503, and says so in its log.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { freshPostgresDatabase, TEST_DATABASE_URL, type TestDatabase } from '../db/postgres/harness'
import { runCli, type ServerProcess, startServerProcess } from '../e2e/server'
import { freePort, tempDir } from '../helpers'
import { TEST_REDIS_URL, testKeyPrefix } from '../shared/redis-server'

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('two servers on one PostgreSQL database and one Redis', () => {
  let db: TestDatabase
  let env: Record<string, string>
  const servers: ServerProcess[] = []
  let token = ''

  beforeAll(async () => {
    db = await freshPostgresDatabase({ migrate: false })
    env = {
      ...(process.env as Record<string, string>),
      MLC_DATABASE_URL: db.url,
      MLC_REDIS_URL: TEST_REDIS_URL,
      MLC_REDIS_KEY_PREFIX: testKeyPrefix('servers'),
    }
    // Both start on the empty database at once (one migrates, under its advisory lock).
    servers.push(...(await Promise.all([startServerProcess(tempDir(), { env }), startServerProcess(tempDir(), { env })])))
    const site = await runCli(['site', 'update', '1', '--rate-limit', '5'], env)
    expect(site.code).toBe(0)
    const created = await runCli(['token', 'create', '--site', '1', '--scopes', 'read', '--json'], env)
    expect(created.code).toBe(0)
    token = JSON.parse(created.stdout).token
  }, 60_000)

  afterAll(async () => {
    for (const s of servers) await s.stop()
    await db.drop()
  })

  test('exactly the site limit (5) passes over both servers, the headers counting down across them', async () => {
    const answers: { status: number; remaining: string | null }[] = []
    for (let i = 0; i < 12; i++) {
      const r = await fetch(`${servers[i % 2]?.url}/v1/tags`, { headers: { authorization: `Bearer ${token}` } })
      await r.arrayBuffer()
      answers.push({ status: r.status, remaining: r.headers.get('x-ratelimit-remaining') })
    }
    expect(answers.filter((a) => a.status === 200).map((a) => a.remaining)).toEqual(['4', '3', '2', '1', '0'])
    expect(answers.slice(5).every((a) => a.status === 429)).toBe(true)
    for (const s of servers) expect(s.output()).toContain('connected to redis')
  })
})

describe.skipIf(!TEST_DATABASE_URL)('a server whose Redis does not answer', () => {
  let db: TestDatabase
  let server: ServerProcess
  let token = ''

  beforeAll(async () => {
    db = await freshPostgresDatabase({ migrate: false })
    // Nothing listens on this port.
    const env = { ...(process.env as Record<string, string>), MLC_DATABASE_URL: db.url, MLC_REDIS_URL: `redis://127.0.0.1:${freePort()}` }
    server = await startServerProcess(tempDir(), { env })
    const created = await runCli(['token', 'create', '--site', '1', '--scopes', 'read', '--json'], env)
    token = JSON.parse(created.stdout).token
  }, 60_000)

  afterAll(async () => {
    await server.stop()
    await db.drop()
  })

  test('starts, serves API requests from its own buckets, answers sign-in 503, and logs why', async () => {
    const started = performance.now()
    const r = await fetch(`${server.url}/v1/tags`, { headers: { authorization: `Bearer ${token}` } })
    await r.arrayBuffer()
    expect(r.status).toBe(200)
    expect(r.headers.get('x-ratelimit-remaining')).toBe('59')
    expect(performance.now() - started).toBeLessThan(1000)
    const form = await fetch(`${server.url}/dashboard/sign-in`)
    const cookie = form.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ')
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? ''
    const signIn = await fetch(`${server.url}/dashboard/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, email: 'someone@example.com', password: 'whatever password' }).toString(),
    })
    expect(signIn.status).toBe(503)
    await signIn.arrayBuffer()
    const log = server.output()
    expect(log).toContain('redis unavailable at start')
    expect(log).toContain('rate limits checked without redis')
    expect(log).not.toContain('"level":"error"')
  })
})
