/**
 * What the chat services run on: the store and clock, the bot provider, the realtime hub (over
 * the fan-out that carries its events to other instances), the webhook worker's wake-up, and
 * optional metrics. Built once by createApp.
 */
import type { Clock } from '../clock'
import type { Config } from '../config'
import type { Store } from '../db/store'
import type { Logger } from '../log'
import type { Fanout } from '../shared/fanout'
import { createBotProvider } from './bot'
import type { BotProvider } from './bot/provider'
import { RealtimeHub } from './realtime'

/** A labelled counter (the metrics registry's, or nothing). */
export interface CounterLike {
  inc(labels: readonly (string | number)[], by?: number): void
}

export interface ChatContext {
  store: Store
  clock: Clock
  logger: Logger
  provider: BotProvider
  hub: RealtimeHub
  /** Open sessions with no message for this long are closed by the sweep. */
  inactivityTimeoutMs: number
  /** Wakes the webhook worker after a commit that enqueued events. */
  wakeWebhooks(): void
  metrics?: { botReplies: CounterLike; botTokens: CounterLike }
}

/** Builds the chat context from the app's dependencies. */
export function createChatContext(deps: {
  config: Config
  store: Store
  clock: Clock
  logger: Logger
  wakeWebhooks: () => void
  provider?: BotProvider
  metrics?: ChatContext['metrics']
  /** Carries realtime events to the other instances (Redis); in-process when omitted. */
  fanout?: Fanout
}): ChatContext {
  return {
    store: deps.store,
    clock: deps.clock,
    logger: deps.logger,
    provider: deps.provider ?? createBotProvider(deps.config),
    hub: new RealtimeHub(deps.fanout),
    inactivityTimeoutMs: deps.config.chatInactivityTimeout * 1000,
    wakeWebhooks: deps.wakeWebhooks,
    metrics: deps.metrics,
  }
}
