/** What every feature module receives from `createApp`. */
import type { ChatContext } from '../chat/context'
import type { Clock } from '../clock'
import type { Config } from '../config'
import type { Store } from '../db/store'
import type { Logger } from '../log'
import type { PlatformMetrics } from '../metrics/platform'
import type { UsageCounter } from '../modules/tokens/usage-counter'
import type { RateLimiter } from '../shared/rate-limit'
import type { WebhookDispatcher } from '../webhooks/dispatcher'
import type { AuthPlugin } from './auth'
import type { Idempotency } from './idempotency'

export interface ModuleDeps {
  config: Config
  store: Store
  clock: Clock
  logger: Logger
  auth: AuthPlugin
  /** The token buckets of every limit (in this process, or in Redis with MLC_REDIS_URL: then checks are promises). */
  buckets: RateLimiter
  usage: UsageCounter
  /** Webhook delivery: call `webhooks.wake()` after a commit that enqueued events. */
  webhooks: WebhookDispatcher
  /** Metrics: count with `metrics.botReplies.inc([provider, outcome])` etc.; see src/metrics/platform.ts. */
  metrics: PlatformMetrics
  /** The chat engine's context (store, bot provider, realtime hub, webhook wake-up); see src/chat/. */
  chat: ChatContext
  /** The client address of a request, as the server front saw it (for per-IP limits). */
  clientIp: (request: Request) => string
  /** Idempotency-Key claims: the auth plugin checks them; routes with their own guard call `check` (see the widget). */
  idempotency: Idempotency
}
