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
import { Envelope, ok, ResponseInteger, responses } from '../../http/envelope'
import type { Logger } from '../../log'
import type { PlatformMetrics } from '../../metrics/platform'
import { PROMETHEUS_CONTENT_TYPE } from '../../metrics/registry'
import { sameSecret } from '../../random'
import type { WebhookDispatcher, WebhookStatus } from '../../webhooks/dispatcher'

/** Whether the server is draining for shutdown; set by the server, read by /readyz. */
export interface Lifecycle {
  draining: boolean
}

const Readiness = t.Object({
  status: t.Literal('ready'),
  database: t.Object({ writable: t.Boolean() }),
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
      const dbError = await probeWritable(deps.store, deps.clock)
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
        deps.logger.warn('not ready', { problems, ...(database ? { database } : {}), worker })
        throw new UnavailableError(`Not ready: ${problems.join('; ')}.`)
      }
      return ok(set, { status: 'ready' as const, database: { writable: true }, worker })
    },
    {
      response: responses({ 200: Envelope(Readiness) }, [503]),
      detail: {
        tags: ['system'],
        summary: 'Readiness',
        description:
          'Answers 200 when this instance can take traffic: the database accepts a write and the webhook worker runs. ' +
          'Includes the delivery queue depth and the age of the oldest pending delivery. 503 `unavailable` otherwise, ' +
          'and while shutting down.',
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
