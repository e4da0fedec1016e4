/**
 * The contract's floor for POST /v1/track: a bare Bun.serve on mlc's own SQLite schema, pragmas
 * and access log, doing by hand the least work a durable event asks for, so the bench can show
 * how close to bare Bun.serve any implementation of it can get on this machine:
 *
 * - the client address (for the log line), the bearer token compared, the JSON body read and its
 *   fields checked;
 * - per event, in a group commit (every event of an event-loop turn in one transaction, no answer
 *   before its COMMIT): the `event_id` looked up (a repeat answers the first), the visitor
 *   inserted or counted in one upsert, the event inserted;
 * - the answer: the event in the envelope with a request id, mlc's headers, one log line.
 *
 * What it leaves out, mlc does: routing and schema validation, the rate-limit bucket and usage
 * counter, identity verification, savepoints per event, segment re-evaluation, metrics.
 *
 * Run by scripts/bench/track.ts as a child process: `bun track-floor.ts <port> <token> <data dir>`.
 */

import { migrate } from '../../src/db/sqlite/migrate'
import { databasePath, openDatabase } from '../../src/db/sqlite/open'
import { setRateLimitHeaders } from '../../src/http/auth'
import { createLogger } from '../../src/log'
import { newRequestId } from '../../src/random'

const [port, token, dataDir] = process.argv.slice(2) as [string, string, string]
const db = openDatabase(databasePath(dataDir))
migrate(db)
db.exec(`INSERT INTO sites (id, name, plan, publishable_key, created_ms) VALUES (1, 'floor', 'free', 'pk_floor', 0) ON CONFLICT DO NOTHING`)
const SITE = 1
const byEventId = db.prepare<{ id: number; occurred_ms: number; received_ms: number }, [number, string]>(
  'SELECT id, occurred_ms, received_ms FROM visitor_events WHERE site_id = ? AND event_id = ?',
)
const upsertVisitor = db.prepare<{ id: number }, [number, string, number]>(
  `INSERT INTO visitors (site_id, key, event_count, first_seen_ms, last_seen_ms, updated_ms) VALUES (?1, ?2, 1, ?3, ?3, ?3)
   ON CONFLICT (site_id, key) DO UPDATE SET event_count = event_count + 1, last_seen_ms = max(last_seen_ms, ?3), updated_ms = ?3 RETURNING id`,
)
const insertEvent = db.prepare<{ id: number }, [number, number, string, string, string, number, number]>(
  'INSERT INTO visitor_events (site_id, visitor_id, name, properties, event_id, occurred_ms, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
)
const begin = db.prepare('BEGIN IMMEDIATE')
const commit = db.prepare('COMMIT')
const logger = createLogger({ level: 'info' })

interface Stored {
  id: number
  occurredMs: number
  receivedMs: number
  duplicate: boolean
}
interface Job {
  key: string
  name: string
  properties: string
  eventId: string
  done: (stored: Stored) => void
}
let queue: Job[] = []
let scheduled = false
function commitGroup() {
  scheduled = false
  const jobs = queue
  queue = []
  const now = Date.now()
  begin.run()
  const stored = jobs.map((j) => {
    const first = byEventId.get(SITE, j.eventId)
    if (first) return { id: first.id, occurredMs: first.occurred_ms, receivedMs: first.received_ms, duplicate: true }
    const visitor = upsertVisitor.get(SITE, j.key, now) as { id: number }
    return {
      id: (insertEvent.get(SITE, visitor.id, j.name, j.properties, j.eventId, now, now) as { id: number }).id,
      occurredMs: now,
      receivedMs: now,
      duplicate: false,
    }
  })
  commit.run()
  for (let i = 0; i < jobs.length; i++) jobs[i]?.done(stored[i] as Stored)
}

const EXPOSE =
  'X-MLC-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit-Policy, RateLimit, Retry-After, ETag, Idempotent-Replayed, Original-Request'
const LIMIT = 1_000_000

Bun.serve({
  port: Number(port),
  hostname: '127.0.0.1',
  async fetch(req, server) {
    const started = performance.now()
    const ip = server.requestIP(req)?.address ?? ''
    if (req.headers.get('authorization') !== `Bearer ${token}`) return new Response('{"ok":false}', { status: 401 })
    const body = (await req.json()) as Record<string, unknown>
    const { key, name, event_id: eventId, properties = {} } = body
    if (typeof key !== 'string' || typeof name !== 'string' || typeof eventId !== 'string' || typeof properties !== 'object') {
      return new Response('{"ok":false}', { status: 400 })
    }
    const propertiesJson = JSON.stringify(properties)
    const stored = await new Promise<Stored>((done) => {
      queue.push({ key, name, properties: propertiesJson, eventId, done })
      if (!scheduled) {
        scheduled = true
        setImmediate(commitGroup)
      }
    })
    const id = newRequestId()
    const now = Date.now()
    const headers: Record<string, string> = { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSE, 'x-mlc-request-id': id }
    setRateLimitHeaders(headers, { allowed: true, limit: LIMIT, remaining: LIMIT - 1, resetSeconds: 1, retryAfterSeconds: 0 }, now)
    headers['content-type'] = 'application/json;charset=utf-8'
    const event = {
      id: stored.id,
      event_id: eventId,
      key,
      name,
      properties,
      timestamp_utc: new Date(stored.occurredMs).toISOString(),
      received_utc: new Date(stored.receivedMs).toISOString(),
      duplicate: stored.duplicate,
    }
    const status = stored.duplicate ? 200 : 201
    const res = new Response(JSON.stringify({ ok: true, data: event, request_id: id }), { status, headers })
    logger.access({
      request_id: id,
      method: 'POST',
      path: '/v1/track',
      status: 201,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
      token_id: 1,
      ip,
    })
    return res
  },
})
process.on('SIGTERM', () => {
  db.close()
  process.exit(0)
})
