/**
 * The series mlc exports, registered once per app. Modules receive them through
 * `deps.metrics` and record with one call: `deps.metrics.botReplies.inc(['rules', 'answered'])`.
 * Label values must come from fixed sets (see each series' doc), never from user input.
 */
import { VERSION } from '../version'
import { type Counter, type Histogram, MetricsRegistry } from './registry'

export interface PlatformMetrics {
  registry: MetricsRegistry
  /** `mlc_http_requests_total{resource,status}`: every answered request. */
  requests: Counter
  /** `mlc_http_request_duration_seconds{resource}`: time from arrival to response. */
  latency: Histogram
  /** `mlc_rate_limit_rejections_total{resource}`: requests answered 429. */
  rateLimited: Counter
  /** `mlc_webhook_deliveries_total{result}`: webhook attempts; result is success | failure | dead. */
  webhookDeliveries: Counter
  /** `mlc_bot_replies_total{provider,outcome}`: bot answers; outcome is answered | handoff | error. */
  botReplies: Counter
  /** `mlc_bot_tokens_total{provider,kind}`: model tokens spent by the bot; kind is input | output. */
  botTokens: Counter
}

/** Creates the registry with the platform series and process gauges. */
export function createPlatformMetrics(opts: { commit?: string; startedMs?: number } = {}): PlatformMetrics {
  const registry = new MetricsRegistry()
  const startedSeconds = (opts.startedMs ?? Date.now()) / 1000
  registry.gauge('mlc_build_info', 'Version and commit of the running binary (always 1).', ['version', 'commit'], () => [
    { labels: [VERSION, opts.commit ?? 'unknown'], value: 1 },
  ])
  registry.gauge('mlc_process_start_time_seconds', 'Start time of the process since the Unix epoch.', [], () => [{ value: startedSeconds }])
  registry.gauge('mlc_process_resident_memory_bytes', 'Resident set size of the process.', [], () => [{ value: process.memoryUsage.rss() }])
  return {
    registry,
    requests: registry.counter('mlc_http_requests_total', 'HTTP requests answered, by resource and status code.', ['resource', 'status']),
    latency: registry.histogram('mlc_http_request_duration_seconds', 'Time from request arrival to response, by resource.', ['resource']),
    rateLimited: registry.counter('mlc_rate_limit_rejections_total', 'Requests refused with 429 by a rate limit, by resource.', ['resource']),
    webhookDeliveries: registry.counter('mlc_webhook_deliveries_total', 'Webhook delivery attempts by result (success, failure, dead).', ['result']),
    botReplies: registry.counter('mlc_bot_replies_total', 'Bot replies by provider and outcome (answered, handoff, error).', ['provider', 'outcome']),
    botTokens: registry.counter('mlc_bot_tokens_total', 'Model tokens used by the bot, by provider and kind (input, output).', ['provider', 'kind']),
  }
}

/**
 * Names the `resource` label of a request from its URL without parsing it: the segment after
 * `/v1/` for API paths, the first segment otherwise, and `unmatched` for anything the app does
 * not serve (so scanners cannot grow the series without bound).
 */
export class ResourceClassifier {
  private api: Set<string> | null = null
  private top: Set<string> | null = null

  /** `extraTop` names first segments served outside the router (the dashboard). */
  constructor(
    private readonly routes: () => { path: string }[],
    private readonly extraTop: readonly string[] = [],
  ) {}

  private load(): void {
    const api = new Set<string>()
    const top = new Set<string>(this.extraTop)
    for (const r of this.routes()) {
      const m = /^\/([^/:*]+)(?:\/([^/:*]+))?/.exec(r.path)
      if (!m?.[1]) continue
      if (m[1] === 'v1') {
        if (m[2]) api.add(m[2])
      } else top.add(m[1])
    }
    this.api = api
    this.top = top
  }

  /** The resource label for a request URL (absolute, as `Request.url`). */
  classify(url: string): string {
    if (!this.api) this.load()
    const start = url.indexOf('/', url.indexOf('//') + 2)
    if (start < 0) return 'unmatched'
    let end = start + 1
    while (end < url.length) {
      const c = url.charCodeAt(end)
      if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break
      end++
    }
    const first = url.slice(start + 1, end)
    if (first !== 'v1') return first === '' ? 'root' : (this.top as Set<string>).has(first) ? first : 'unmatched'
    let e2 = end + 1
    while (e2 < url.length) {
      const c = url.charCodeAt(e2)
      if (c === 47 || c === 63 || c === 35) break
      e2++
    }
    const second = url.slice(end + 1, e2)
    return (this.api as Set<string>).has(second) ? second : 'unmatched'
  }
}

/** The delivery queue as /readyz sees it (the webhook dispatcher's `status()`). */
interface QueueStatus {
  alive: boolean
  queue_depth: number
  due: number
  oldest_pending_age_ms: number | null
}

/**
 * Gauges read from the webhook dispatcher at scrape time: one status() call per scrape, made by
 * the registry's `collect()` before it renders (the queue is read from the database).
 */
export function registerWebhookGauges(metrics: PlatformMetrics, status: () => Promise<QueueStatus> | QueueStatus): void {
  let current: QueueStatus | null = null
  const r = metrics.registry
  r.beforeCollect(async () => {
    try {
      current = await status()
    } catch {
      // The queue cannot be read now (database unavailable): this scrape drops the four gauges.
      current = null
    }
  })
  // The four gauges render one after the other; they share one read of the queue.
  const read = (): QueueStatus => {
    if (!current) throw new Error('webhook queue status unavailable')
    return current
  }
  r.gauge('mlc_webhook_worker_up', 'Whether the webhook delivery worker is running (1) or not (0).', [], () => [{ value: read().alive ? 1 : 0 }])
  r.gauge('mlc_webhook_queue_depth', 'Unfinished webhook deliveries (pending or retrying).', [], () => [{ value: read().queue_depth }])
  r.gauge('mlc_webhook_due', 'Unfinished webhook deliveries whose next attempt is due now.', [], () => [{ value: read().due }])
  r.gauge('mlc_webhook_oldest_pending_age_seconds', 'Age of the oldest unfinished webhook delivery (0 when none).', [], () => [
    { value: (read().oldest_pending_age_ms ?? 0) / 1000 },
  ])
}
