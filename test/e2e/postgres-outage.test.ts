/**
 * The real server on a PostgreSQL that goes away (issue 16). The file starts its own PostgreSQL
 * (Debian's binaries, as the `postgres` user, data in a temp dir) because it stops it mid-test:
 * the shared test server must stay up for everyone else.
 *
 * While the database is down, every request that needs it answers 503 `unavailable` in the
 * envelope, fast (Bun.sql's pool sees the refused connection at once; nothing waits for the 10 s
 * connection timeout), /readyz answers 503 naming the problem, /healthz and requests that need no
 * database (a request without a token: 401) still answer, and the process stays up. Requests in
 * flight at the stop answer 503 too: a read waiting on a lock (its connection is terminated), a
 * test ping whose attempt cannot be recorded. When PostgreSQL is back the pool reconnects by
 * itself (no restart of mlc), and the webhook worker sends the unrecorded delivery again.
 *
 * The auth cache: a remembered token passes authentication without a query only while the last
 * read of `auth_epoch` is younger than 500 ms. During an outage that read fails, and a failed read
 * is retried by the next request, so every authenticated request (a known token, an unknown one,
 * a publishable key) needs the database and answers 503; an unknown token is not told 401, since
 * without the database it cannot be told from a valid one. A request that slips through the cache
 * in the first 500 ms fails at its own query instead: 503 all the same.
 *
 * A statement timeout (MLC_DATABASE_STATEMENT_TIMEOUT_MS) behind a lock another session holds
 * answers 503 after about the timeout, and the same request works once the lock is released.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SQL, spawnSync } from 'bun'
import { expectError, freePort, tempDir } from '../helpers'
import { runCli, type ServerProcess, startServerProcess } from './server'

/** The newest PostgreSQL server binaries Debian installed (`ls -d /usr/lib/postgresql/<v>/bin | sort -V | tail -1`). */
function postgresBin(): string | null {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return null
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)*$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
  const last = versions.at(-1)
  return last ? join(root, last, 'bin') : null
}

const PG_BIN = postgresBin()
const POSTGRES_USER_EXISTS = spawnSync(['id', '-u', 'postgres'], { stdout: 'ignore', stderr: 'ignore' }).exitCode === 0

/** Why this file cannot run here, or null. */
const skipReason: string | null = !PG_BIN
  ? 'no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)'
  : !Bun.which('runuser')
    ? 'runuser is missing (util-linux): initdb and pg_ctl must run as the postgres user'
    : process.getuid?.() !== 0
      ? 'not running as root: initdb and pg_ctl are run as the postgres user through runuser'
      : !POSTGRES_USER_EXISTS
        ? 'there is no postgres user (Debian creates it with the postgresql package)'
        : null
if (skipReason) console.warn(`test/e2e/postgres-outage.test.ts skipped: ${skipReason}`)

/** Runs a command to its end; throws with its output when it fails. */
function run(cmd: string[], what: string): void {
  const r = spawnSync(cmd, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0) throw new Error(`${what} failed (${r.exitCode}): ${r.stdout.toString()}${r.stderr.toString()}`)
}

/** Whether a process exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A PostgreSQL server of this file's own, on a free loopback port, stoppable mid-test. */
class OwnPostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'mlc-pg-outage-'))
  readonly data = join(this.dir, 'pg')
  readonly port = freePort()
  /** Every postmaster pid this file started, stopped by pid at the end whatever happened. */
  readonly pids = new Set<number>()

  constructor(private readonly bin: string) {
    run(['chown', 'postgres', this.dir], 'chown of the PostgreSQL temp dir')
    run(['runuser', '-u', 'postgres', '--', join(bin, 'initdb'), '-D', this.data, '-A', 'trust', '-U', 'mlc', '--no-sync'], 'initdb')
  }

  url(database: string): string {
    return `postgres://mlc@127.0.0.1:${this.port}/${database}`
  }

  /** The running postmaster's pid, from its pid file. */
  pid(): number | null {
    try {
      return Number(readFileSync(join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]) || null
    } catch {
      return null
    }
  }

  /** `pg_ctl start`, waiting until it accepts connections. */
  start(): void {
    const opts = `-c listen_addresses=127.0.0.1 -p ${this.port} -k ${this.dir} -c fsync=off -c max_prepared_transactions=4`
    run(
      ['runuser', '-u', 'postgres', '--', join(this.bin, 'pg_ctl'), '-D', this.data, '-l', join(this.dir, 'pg.log'), '-w', '-t', '30', '-o', opts, 'start'],
      'pg_ctl start',
    )
    const pid = this.pid()
    if (pid) this.pids.add(pid)
  }

  /** `pg_ctl stop -m fast`: sessions are terminated, the server is gone when this returns. */
  stop(): void {
    run(['runuser', '-u', 'postgres', '--', join(this.bin, 'pg_ctl'), '-D', this.data, '-m', 'fast', '-w', '-t', '30', 'stop'], 'pg_ctl stop')
  }

  /** Stops every postmaster this file started (SIGINT: fast shutdown; SIGKILL if it lingers), then removes the data. */
  async destroy(): Promise<void> {
    const current = this.pid()
    if (current) this.pids.add(current)
    for (const pid of this.pids) {
      if (!alive(pid)) continue
      process.kill(pid, 'SIGINT')
      const deadline = Date.now() + 10_000
      while (alive(pid) && Date.now() < deadline) await Bun.sleep(50)
      if (alive(pid)) process.kill(pid, 'SIGKILL')
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

interface Answer {
  status: number
  headers: Headers
  body: any
  /** Milliseconds from sending to the whole body read. */
  ms: number
}

/** One request against a running server; aborts after 15 s so a hang fails the assertion on time, not the test runner. */
async function call(server: ServerProcess, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  const started = performance.now()
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(15_000),
  })
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  return { status: res.status, headers: res.headers, body, ms: performance.now() - started }
}

/** Polls `probe` every 50 ms until it answers true; resolves with the milliseconds it took, or throws after `limitMs`. */
async function within(limitMs: number, what: string, probe: () => Promise<boolean>): Promise<number> {
  const started = performance.now()
  for (;;) {
    if (await probe()) return performance.now() - started
    if (performance.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms`)
    await Bun.sleep(50)
  }
}

/** The server's JSON log lines. */
function logLines(server: ServerProcess): Record<string, any>[] {
  return server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
}

/** A token with read and write scopes on site 1, made by the CLI on the server's database. */
async function cliToken(env: Record<string, string>): Promise<string> {
  const created = await runCli(['token', 'create', '--site', '1', '--scopes', 'read,write', '--json'], env)
  expect(created.code).toBe(0)
  return JSON.parse(created.stdout).token
}

/** The server's env: this process's, minus anything pointing at another database, plus `extra`. */
function serverEnv(extra: Record<string, string>): Record<string, string> {
  const env = { ...process.env } as Record<string, string>
  delete env.MLC_DATABASE_URL
  delete env.MLC_TEST_ENGINE
  return { ...env, ...extra }
}

const TIMINGS: Record<string, number> = {}

describe.skipIf(skipReason !== null)(`PostgreSQL going away under a running server${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let pg: OwnPostgres
  let root = ''

  beforeAll(async () => {
    root = tempDir('mlc-pg-outage-data-')
    pg = new OwnPostgres(PG_BIN as string)
    pg.start()
    const admin = new SQL(pg.url('postgres'), { max: 1 })
    try {
      await admin.unsafe('CREATE DATABASE outage')
      await admin.unsafe('CREATE DATABASE stmt_timeout')
    } finally {
      await admin.close()
    }
  }, 60_000)

  afterAll(async () => {
    try {
      await pg?.destroy()
    } finally {
      if (root) rmSync(root, { recursive: true, force: true })
      if (Object.keys(TIMINGS).length) console.log('postgres-outage timings (ms):', JSON.stringify(TIMINGS))
    }
  }, 30_000)

  test('a lost connection answers 503 in the envelope, fast; the server stays up and recovers by itself', async () => {
    // A short webhook timeout makes the lease short (timeout + 5 s): an attempt whose result could not be written is sent again soon.
    const env = serverEnv({ MLC_DATABASE_URL: pg.url('outage'), MLC_WEBHOOK_ALLOW_PRIVATE: '1', MLC_WEBHOOK_TIMEOUT_MS: '2000' })
    const server = await startServerProcess(join(root, 'outage'), { env })
    // The webhook receiver holds the first delivery until the database is down, then answers 200.
    const received: string[] = []
    let openGate: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      openGate = resolve
    })
    const receiver = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: async (req) => {
        received.push(req.headers.get('webhook-id') ?? '')
        await gate
        return new Response('ok')
      },
    })
    const locker = new SQL(pg.url('outage'), { max: 1 })
    let lockPrepared = false
    const releaseLock = async () => {
      if (!lockPrepared) return
      await locker.unsafe(`ROLLBACK PREPARED 'outage_lock'`)
      lockPrepared = false
    }
    try {
      const pid = server.proc.pid
      await within(10_000, 'ready before the outage', async () => (await call(server, 'GET', '/readyz')).status === 200)
      const token = await cliToken(env)
      const pk = logLines(server).find((l) => l.msg === 'created site 1 on first start')?.publishable_key as string
      expect(pk).toStartWith('pk_')

      // 1. Reads and writes work.
      const before = await call(server, 'POST', '/v1/tags', { token, body: { name: 'before-outage', color: '#2563eb' } })
      expect(before.status).toBe(201)
      const listed = await call(server, 'GET', '/v1/tags', { token })
      expect(listed.status).toBe(200)
      expect(listed.body.data.map((t: { name: string }) => t.name)).toEqual(['before-outage'])

      // Two requests in flight when PostgreSQL stops: a read queued behind a lock (its connection is
      // terminated under it), and a test ping whose delivery is being sent. The lock is held by a
      // prepared transaction, which no session owns: a lock held by a session could be released by
      // that session's termination first, and the read would then finish before its own (a race).
      const sub = await call(server, 'POST', '/v1/webhook_subscriptions', { token, body: { url: `http://127.0.0.1:${receiver.port}/in`, events: ['*'] } })
      expect(sub.status).toBe(201)
      await locker.unsafe(`BEGIN; LOCK TABLE tags IN ACCESS EXCLUSIVE MODE; PREPARE TRANSACTION 'outage_lock'`)
      lockPrepared = true
      const blockedRead = call(server, 'GET', '/v1/tags', { token })
      await within(5000, 'the read waits for the lock', async () => {
        const [row] = await locker`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'outage' AND wait_event_type = 'Lock'`
        return row.n === 1
      })
      const ping = call(server, 'POST', `/v1/webhook_subscriptions/${sub.body.data.id}?action=test`, { token })
      await within(5000, 'the ping delivery reaches the receiver', async () => received.length === 1)

      // 2. PostgreSQL stops (fast: its sessions are terminated, new connections refused).
      let started = performance.now()
      pg.stop()
      TIMINGS.pg_stop = Math.round(performance.now() - started)
      openGate()
      const outageIds: string[] = []
      const readyzIds: string[] = []
      const slowest = { ms: 0 }
      const unavailable = (a: Answer, what: string) => {
        try {
          expectError(a, 503, 'unavailable')
        } catch (err) {
          throw new Error(`${what}: ${(err as Error).message}`)
        }
        expect(a.ms).toBeLessThan(5000)
        slowest.ms = Math.max(slowest.ms, a.ms)
        outageIds.push(a.body.error.request_id)
      }
      // The read queued behind the lock lost its connection: 503, not a wait for the 10 s statement timeout.
      const inFlight = await blockedRead
      unavailable(inFlight, 'GET /v1/tags in flight at the stop')
      TIMINGS.in_flight_read_503 = Math.round(inFlight.ms)
      // Several rounds over more than the auth cache's 500 ms, so both ways in are taken: the
      // remembered token with its epoch check due (the read fails), and not due (its own query fails).
      for (let round = 0; round < 4; round++) {
        unavailable(await call(server, 'GET', '/v1/tags', { token }), `round ${round}: GET /v1/tags`)
        unavailable(await call(server, 'POST', '/v1/tags', { token, body: { name: `during-${round}` } }), `round ${round}: POST /v1/tags`)
        unavailable(await call(server, 'GET', '/v1/whoami', { token }), `round ${round}: GET /v1/whoami`)
        // An unknown token cannot be told from a known one without the database: 503, not 401.
        unavailable(await call(server, 'GET', '/v1/tags', { token: 'mlc_unknown_token_0000000000' }), `round ${round}: unknown token`)
        unavailable(await call(server, 'POST', '/v1/track', { token: pk, body: { key: 'u_1', name: 'viewed_pricing' } }), `round ${round}: POST /v1/track`)
        // A request that needs no database still gets its usual answer.
        const anonymous = await call(server, 'GET', '/v1/tags')
        expectError(anonymous, 401, 'unauthorized')
        expect(anonymous.ms).toBeLessThan(5000)

        const readyz = await call(server, 'GET', '/readyz')
        expectError(readyz, 503, 'unavailable')
        expect(readyz.ms).toBeLessThan(5000)
        expect(readyz.body.error.message).toContain('database not writable: cannot connect')
        readyzIds.push(readyz.body.error.request_id)
        const healthz = await call(server, 'GET', '/healthz')
        expect(healthz.status).toBe(200)
        expect(server.proc.exitCode).toBeNull()
        await Bun.sleep(250)
      }
      // A burst larger than the pool (10): nobody queues behind a dead connection.
      const burst = await Promise.all(Array.from({ length: 30 }, () => call(server, 'GET', '/v1/tags', { token })))
      for (const [i, a] of burst.entries()) unavailable(a, `burst ${i}`)
      TIMINGS.outage_slowest_503 = Math.round(slowest.ms)
      // The ping's attempt finished but its result could not be written: after its bounded wait
      // (timeout + 1 s) the ping reads the delivery back and answers 503.
      const pinged = await ping
      unavailable(pinged, 'the test ping in flight at the stop')
      TIMINGS.in_flight_ping_503 = Math.round(pinged.ms)

      // 3. PostgreSQL is back: the same process serves again within a few seconds.
      started = performance.now()
      pg.start()
      TIMINGS.pg_start = Math.round(performance.now() - started)
      // The prepared transaction outlived the restart (that is what they are for); it goes now.
      started = performance.now()
      await releaseLock()
      TIMINGS.reads_back_after_start = Math.round(
        await within(5000, 'GET /v1/tags after PostgreSQL restarted', async () => (await call(server, 'GET', '/v1/tags', { token })).status === 200),
      )
      TIMINGS.readyz_back_after_start = Math.round(
        await within(5000, '/readyz after PostgreSQL restarted', async () => (await call(server, 'GET', '/readyz')).status === 200),
      )
      const after = await call(server, 'POST', '/v1/tags', { token, body: { name: 'after-outage' } })
      expect(after.status).toBe(201)
      const relisted = await call(server, 'GET', '/v1/tags', { token })
      expect(relisted.status).toBe(200)
      // Data from before the outage intact; nothing written during it.
      expect(relisted.body.data).toEqual([
        { id: before.body.data.id, name: 'before-outage', color: '#2563eb' },
        { id: after.body.data.id, name: 'after-outage', color: '#64748b' },
      ])
      expect((await call(server, 'GET', '/v1/whoami', { token })).status).toBe(200)
      expect((await call(server, 'POST', '/v1/track', { token: pk, body: { key: 'u_1', name: 'viewed_pricing' } })).status).toBe(201)
      // The webhook worker lived through it: the unrecorded attempt's lease ends and the ping is sent again, and recorded.
      TIMINGS.webhook_resent_after_start = Math.round(
        await within(15_000, 'the ping sent again after PostgreSQL restarted', async () => {
          const deliveries = await call(server, 'GET', '/v1/webhook_deliveries', { token })
          return deliveries.status === 200 && deliveries.body.data[0]?.status === 'succeeded'
        }),
      )
      expect(received).toHaveLength(2)
      expect(received[1]).toBe(received[0] as string)
      expect(server.proc.exitCode).toBeNull()
      expect(server.proc.pid).toBe(pid)

      // 4. The log: each 503 under its request id, no unhandled error, one start.
      const lines = logLines(server)
      for (const id of outageIds) {
        expect(lines.find((l) => l.request_id === id && l.msg === 'request')).toMatchObject({ status: 503 })
        expect(lines.find((l) => l.request_id === id && l.msg === 'storage unavailable')?.error).toContain('database connection unavailable')
      }
      for (const id of readyzIds) expect(lines.find((l) => l.request_id === id && l.msg === 'request')).toMatchObject({ status: 503 })
      expect(lines.filter((l) => l.msg === 'listening')).toHaveLength(1)
      expect(lines.filter((l) => /unhandled|uncaught/i.test(l.msg) || 'stack' in l)).toEqual([])
      expect(lines.filter((l) => l.status === 500)).toEqual([])
      // Anything not written by the logger (a runtime's own report of an uncaught error) is a failure.
      expect(
        server
          .output()
          .split('\n')
          .filter((l) => l.trim() && !l.startsWith('{')),
      ).toEqual([])
    } finally {
      if (!pg.pid()) pg.start()
      await releaseLock().catch(() => {})
      await locker.close({ timeout: 0 })
      receiver.stop(true)
      expect(await server.stop()).toBe(0)
    }
  }, 90_000)

  test('a statement behind a lock held elsewhere answers 503 after the statement timeout, then works again', async () => {
    const timeoutMs = 500
    const env = serverEnv({ MLC_DATABASE_URL: pg.url('stmt_timeout'), MLC_DATABASE_STATEMENT_TIMEOUT_MS: String(timeoutMs) })
    const server = await startServerProcess(join(root, 'stmt'), { env })
    const locker = new SQL(pg.url('stmt_timeout'), { max: 1 })
    let release: () => void = () => {}
    let holder: Promise<unknown> = Promise.resolve()
    try {
      const token = await cliToken(env)
      expect((await call(server, 'POST', '/v1/tags', { token, body: { name: 'kept' } })).status).toBe(201)
      expect((await call(server, 'GET', '/v1/tags', { token })).status).toBe(200)

      // Another session takes the table and keeps its transaction open.
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      let locked: () => void = () => {}
      const lockHeld = new Promise<void>((resolve) => {
        locked = resolve
      })
      holder = locker.begin(async (tx) => {
        await tx`LOCK TABLE tags IN ACCESS EXCLUSIVE MODE`
        locked()
        await released
      })
      await lockHeld

      const ids: string[] = []
      for (const [method, body] of [
        ['GET', undefined],
        ['POST', { name: 'blocked' }],
        ['GET', undefined],
      ] as const) {
        const a = await call(server, method, '/v1/tags', { token, body })
        expectError(a, 503, 'unavailable')
        expect(a.ms).toBeGreaterThanOrEqual(timeoutMs * 0.9)
        expect(a.ms).toBeLessThan(timeoutMs + 2000)
        TIMINGS[`statement_timeout_503_${ids.length}`] = Math.round(a.ms)
        ids.push(a.body.error.request_id)
      }
      // Only that table is held: the rest of the database answers (the /readyz probe writes `meta`).
      expect((await call(server, 'GET', '/readyz')).status).toBe(200)
      expect((await call(server, 'GET', '/v1/whoami', { token })).status).toBe(200)

      release()
      await holder
      const back = await call(server, 'GET', '/v1/tags', { token })
      expect(back.status).toBe(200)
      expect(back.body.data.map((t: { name: string }) => t.name)).toEqual(['kept'])
      expect(server.proc.exitCode).toBeNull()

      const lines = logLines(server)
      for (const id of ids) expect(lines.find((l) => l.request_id === id && l.msg === 'storage unavailable')?.error).toContain('statement timed out')
      expect(lines.filter((l) => /unhandled|uncaught/i.test(l.msg) || 'stack' in l || l.status === 500)).toEqual([])
    } finally {
      release()
      await holder.catch(() => {})
      await locker.close({ timeout: 0 })
      expect(await server.stop()).toBe(0)
    }
  }, 60_000)
})
