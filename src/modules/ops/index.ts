/**
 * Operations endpoints: `/readyz` (may this instance take traffic?) and `/metrics` (Prometheus).
 * Neither needs an API token: /readyz tells nothing secret, and /metrics is off unless enabled,
 * then guarded by its own bearer token when one is configured.
 */
import { Elysia, t } from 'elysia'
import type { Clock } from '../../clock'
import type { Config } from '../../config'
import { describeProbeFailure, type ProbeFailure } from '../../db/probe'
import type { Store } from '../../db/store'
import { UnauthorizedError, UnavailableError } from '../../errors'
import { Envelope, ok, publicResponses, ResponseInteger } from '../../http/envelope'
import type { Logger } from '../../log'
import type { PlatformMetrics } from '../../metrics/platform'
import { PROMETHEUS_CONTENT_TYPE } from '../../metrics/registry'
import { sameSecret } from '../../random'
import type { WebhookDispatcher, WebhookStatus } from '../../webhooks/dispatcher'

/** What the server tells /readyz: whether it is draining for shutdown, its name, its Redis. */
export interface Lifecycle {
  draining: boolean
  /** MLC_INSTANCE_ID, or hostname:port with Redis; unset for a lone instance. */
  instance?: string
  /** The process's Redis (MLC_REDIS_URL), probed by /readyz; unset without one. */
  redis?: { probe(timeoutMs?: number): Promise<string | null> }
}

/** How long /readyz waits for Redis to answer a PING. */
const REDIS_PROBE_MS = 250

const Readiness = t.Object({
  status: t.Literal('ready'),
  instance: t.Union([t.String(), t.Null()], { description: 'MLC_INSTANCE_ID (or hostname:port with Redis); null for a lone instance.' }),
  database: t.Object({ writable: t.Boolean(), engine: t.Union([t.Literal('sqlite'), t.Literal('postgres')]) }),
  redis: t.String({
    description:
      '`ok` when Redis answered a PING within 250 ms, `not configured` without MLC_REDIS_URL, else why not. ' +
      'A Redis that does not answer leaves the instance ready: limits fall back per instance (docs/operations.md).',
  }),
  worker: t.Object({
    alive: t.Boolean(),
    queue_depth: ResponseInteger({ description: 'Unfinished webhook deliveries (pending or retrying).' }),
    due: ResponseInteger({ description: 'Unfinished deliveries whose next attempt is due now.' }),
    in_flight: ResponseInteger(),
    oldest_pending_age_ms: t.Union([ResponseInteger(), t.Null()], { description: 'Age of the oldest unfinished delivery.' }),
    oldest_due_lag_ms: t.Union([ResponseInteger(), t.Null()], { description: 'How late the most overdue attempt is.' }),
  }),
})

/** How long /readyz lets another writer (the webhook thread, a CLI command) hold the lock before it reports it. */
const PROBE_LOCK_WAIT_MS = 250
const PROBE_RETRY_MS = 10

/**
 * The write probe, retried while another connection holds the lock: each try waits for no lock,
 * so the event loop (every other request) never sleeps in SQLite's busy handler on a probe's
 * behalf. Null when a write committed; otherwise the engine's error code and what it means.
 */
async function probeWritable(store: Store, clock: Clock): Promise<(ProbeFailure & { code: string }) | null> {
  const deadline = performance.now() + PROBE_LOCK_WAIT_MS
  for (;;) {
    const code = await store.health.probeWrite(clock.now(), 0)
    if (code === null) return null
    const failure = describeProbeFailure(code)
    if (!failure.lockHeld || performance.now() >= deadline) return { ...failure, code }
    await Bun.sleep(PROBE_RETRY_MS)
  }
}

/** `GET /readyz`: 200 when the database takes writes and the webhook worker runs, else 503 naming why. */
export function readyzModule(deps: { store: Store; clock: Clock; logger: Logger; webhooks: WebhookDispatcher; lifecycle: Lifecycle }) {
  return new Elysia().get(
    '/readyz',
    async ({ set }) => {
      const problems: string[] = []
      if (deps.lifecycle.draining) problems.push('shutting down')
      // Both probes at once: a slow Redis adds nothing to a slow database's wait.
      const redisProbe: Promise<string> = deps.lifecycle.redis
        ? deps.lifecycle.redis.probe(REDIS_PROBE_MS).then(
            (problem) => problem ?? 'ok',
            (err: unknown) => String((err as Error)?.message ?? err),
          )
        : Promise.resolve('not configured')
      const dbError = await probeWritable(deps.store, deps.clock)
      const redis = await redisProbe
      // Named for the operator first ("disk full"), then the engine's code.
      const database = dbError ? dbError.problem : null
      if (dbError) problems.push(`database not writable: ${database} (${dbError.code})`)
      let worker: WebhookStatus | null = null
      try {
        worker = await deps.webhooks.status()
        if (!worker.alive) problems.push('webhook worker not running')
      } catch (err) {
        problems.push(`webhook queue unreadable (${String((err as Error)?.message ?? err)})`)
      }
      if (problems.length || !worker) {
        deps.logger.warn('not ready', { problems, ...(database ? { database } : {}), redis, worker })
        throw new UnavailableError(`Not ready: ${problems.join('; ')}.`)
      }
      return ok(set, {
        status: 'ready' as const,
        instance: deps.lifecycle.instance || null,
        database: { writable: true, engine: deps.store.engine },
        redis,
        worker,
      })
    },
    {
      response: publicResponses({ 200: Envelope(Readiness) }, [503]),
      detail: {
        tags: ['system'],
        summary: 'Readiness',
        description:
          'Answers 200 when this instance can take traffic: the database accepts a write and the webhook worker runs. ' +
          'Includes the delivery queue depth and the age of the oldest pending delivery, and whether Redis answers ' +
          '(reported, not required: every instance shares one Redis, and without it each falls back to its own limits). ' +
          '503 `unavailable` otherwise, and while shutting down.',
      },
    },
  )
}

/** The bearer value of a request, or null. */
function bearerOf(request: Request): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')
  return m?.[1] ?? null
}

/** `GET /metrics` in the Prometheus text format; registered only when MLC_METRICS or MLC_METRICS_TOKEN is set. */
export function metricsModule(deps: { config: Config; metrics: PlatformMetrics }) {
  const { config, metrics } = deps
  const app = new Elysia()
  if (!config.metrics && !config.metricsToken) return app
  return app.get(
    '/metrics',
    async ({ request }) => {
      if (config.metricsToken) {
        const given = bearerOf(request)
        if (!given || !sameSecret(given, config.metricsToken)) throw new UnauthorizedError('GET /metrics needs "Authorization: Bearer <MLC_METRICS_TOKEN>".')
      }
      // collect(): the webhook queue gauges read the database first.
      return new Response(await metrics.registry.collect(), { headers: { 'content-type': PROMETHEUS_CONTENT_TYPE } })
    },
    { detail: { hide: true } },
  )
}
