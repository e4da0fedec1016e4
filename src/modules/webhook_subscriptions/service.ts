/** Webhook subscriptions of a site: plain functions over the webhook repository. */
import { type Clock, isoUtc } from '../../clock'
import type { Config } from '../../config'
import { siteWebhookSubscriptionsLock, webhookSubscriptionLock } from '../../db/lock-keys'
import type { SubscriptionRow } from '../../db/rows'
import type { Repositories, Store } from '../../db/store'
import { BadRequestError, ConflictError, NotFoundError } from '../../errors'
import type { WebhookDispatcher } from '../../webhooks/dispatcher'
import { enqueueEvent } from '../../webhooks/enqueue'
import { newWebhookSecret, secretPrefix } from '../../webhooks/sign'
import { TargetRefusedError, vetUrl } from '../../webhooks/ssrf'
import {
  type CreateSubscriptionInput,
  MAX_SUBSCRIPTIONS_PER_SITE,
  type Subscription,
  type SubscriptionWithSecret,
  type TestResult,
  type UpdateSubscriptionInput,
} from './model'

export interface SubscriptionDeps {
  store: Store
  clock: Clock
  config: Config
  webhooks: WebhookDispatcher
}

/** The longest a test ping request waits for its first attempt. */
export const TEST_WAIT_MAX_MS = 8000

function present(row: SubscriptionRow, nowMs: number): Subscription {
  const graceActive = row.previous_secret !== null && row.previous_secret_until_ms !== null && row.previous_secret_until_ms > nowMs
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    active: row.active === 1,
    description: row.description,
    disabled_reason: row.disabled_reason,
    secret_prefix: secretPrefix(row.secret),
    previous_secret_valid_until_utc: graceActive ? isoUtc(row.previous_secret_until_ms as number) : null,
    created_utc: isoUtc(row.created_ms),
    updated_utc: isoUtc(row.updated_ms),
  }
}

function withSecret(row: SubscriptionRow, nowMs: number): SubscriptionWithSecret {
  return { ...present(row, nowMs), secret: row.secret }
}

/**
 * The URL as stored, after the checks every create and update runs: http(s) only, no
 * credentials, and (unless MLC_WEBHOOK_ALLOW_PRIVATE) a host that resolves to public addresses only.
 */
export async function checkWebhookUrl(config: Config, raw: string): Promise<string> {
  let url: URL
  try {
    url = new URL(raw.trim())
  } catch {
    throw new BadRequestError('url must be an absolute http or https URL', 'url')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BadRequestError('url must use http or https', 'url')
  if (url.username || url.password) throw new BadRequestError('url must not carry credentials; verify the signature instead', 'url')
  url.hash = ''
  if (!config.webhookAllowPrivate) {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TargetRefusedError('dns', `${url.hostname} did not resolve within ${config.webhookTimeoutMs} ms`)),
        config.webhookTimeoutMs,
      )
    })
    try {
      await Promise.race([vetUrl(url, false), timeout])
    } catch (err) {
      if (err instanceof TargetRefusedError) {
        throw new BadRequestError(err.kind === 'dns' ? `url: ${err.message}` : `url is refused: ${err.message} (webhooks only reach public addresses)`, 'url')
      }
      throw err
    } finally {
      clearTimeout(timer)
    }
  }
  return url.href
}

async function mustGet(store: Repositories, siteId: number, id: number): Promise<SubscriptionRow> {
  const row = await store.webhooks.getSubscription(siteId, id)
  if (!row) throw new NotFoundError(`No webhook subscription with id ${id}.`, 'id')
  return row
}

function tooMany(): ConflictError {
  return new ConflictError(`A site can have at most ${MAX_SUBSCRIPTIONS_PER_SITE} webhook subscriptions.`)
}

function inactive(id: number): ConflictError {
  return new ConflictError(`Webhook subscription ${id} is inactive; set active to true first.`, 'id')
}

/** A site's subscriptions, oldest first. */
export async function listSubscriptions(deps: SubscriptionDeps, siteId: number): Promise<Subscription[]> {
  const now = deps.clock.now()
  return (await deps.store.webhooks.listSubscriptions(siteId)).map((r) => present(r, now))
}

/** One subscription. */
export async function getSubscription(deps: SubscriptionDeps, siteId: number, id: number): Promise<Subscription> {
  return present(await mustGet(deps.store, siteId, id), deps.clock.now())
}

/** Creates a subscription with a new secret (returned this once). */
export async function createSubscription(deps: SubscriptionDeps, siteId: number, input: CreateSubscriptionInput): Promise<SubscriptionWithSecret> {
  const url = await checkWebhookUrl(deps.config, input.url)
  const secret = newWebhookSecret()
  const now = deps.clock.now()
  // Counted in the transaction that inserts, under the site's subscriptions lock: concurrent
  // creates count one after the other, so at the limit exactly one passes.
  const row = await deps.store.transaction(async (tx) => {
    await tx.lock(siteWebhookSubscriptionsLock(siteId))
    if ((await tx.webhooks.countSubscriptions(siteId)) >= MAX_SUBSCRIPTIONS_PER_SITE) throw tooMany()
    return tx.webhooks.insertSubscription(siteId, url, JSON.stringify(input.events), input.description?.trim() ?? '', secret, now)
  })
  return withSecret(row, now)
}

/** Changes url, events, description or active. Deactivating dead-letters what is still queued. */
export async function updateSubscription(deps: SubscriptionDeps, siteId: number, id: number, input: UpdateSubscriptionInput): Promise<Subscription> {
  // Unknown ids answer 404 before the URL is checked (the check may wait for DNS).
  await mustGet(deps.store, siteId, id)
  const checkedUrl = input.url !== undefined ? await checkWebhookUrl(deps.config, input.url) : undefined
  const now = deps.clock.now()
  // The fields not sent are read in the transaction that writes, under the subscription's lock
  // (also taken by a retry and by the worker disabling a gone endpoint), so a concurrent change is kept.
  const row = await deps.store.transaction(async (tx) => {
    await tx.lock(webhookSubscriptionLock(siteId, id))
    const current = await tx.webhooks.getSubscription(siteId, id)
    if (!current) return null
    const active = input.active ?? current.active === 1
    const disabledReason = active ? null : input.active === false && current.active === 1 ? 'manual' : current.disabled_reason
    const updated = await tx.webhooks.updateSubscription(
      siteId,
      id,
      {
        url: checkedUrl ?? current.url,
        events: input.events !== undefined ? JSON.stringify(input.events) : current.events,
        description: input.description !== undefined ? input.description.trim() : current.description,
        active,
        disabledReason,
      },
      now,
    )
    if (updated && !active && current.active === 1) await tx.webhooks.deadLetterPending(id, 'subscription deactivated', now)
    return updated
  })
  if (!row) throw new NotFoundError(`No webhook subscription with id ${id}.`, 'id')
  return present(row, now)
}

/** Deletes a subscription; its queued deliveries stop (they and its delivery log are removed). */
export async function deleteSubscription(deps: SubscriptionDeps, siteId: number, id: number): Promise<{ id: number; deleted: true }> {
  if (!(await deps.store.webhooks.removeSubscription(siteId, id))) throw new NotFoundError(`No webhook subscription with id ${id}.`, 'id')
  return { id, deleted: true }
}

/** New secret; the old one keeps signing `webhook-signature` for the grace window. */
export async function rotateSecret(deps: SubscriptionDeps, siteId: number, id: number): Promise<SubscriptionWithSecret> {
  await mustGet(deps.store, siteId, id)
  const now = deps.clock.now()
  const row = await deps.store.webhooks.rotateSecret(siteId, id, newWebhookSecret(), now + deps.config.webhookRotationGrace * 1000, now)
  if (!row) throw new NotFoundError(`No webhook subscription with id ${id}.`, 'id')
  return withSecret(row, now)
}

/** Sends a `ping` through the queue and answers with its delivery id and the first attempt's outcome. */
export async function testSubscription(deps: SubscriptionDeps, siteId: number, id: number): Promise<TestResult> {
  const { store, clock, webhooks } = deps
  const { eventId, deliveryIds } = await store.transaction(async (tx) => {
    const sub = await mustGet(tx, siteId, id)
    if (sub.active !== 1) throw inactive(id)
    const queued = await enqueueEvent(tx, clock, { siteId, type: 'ping', payload: {}, subscriptionId: id })
    // Deactivated between the two reads (PostgreSQL): nothing was queued.
    if (queued.deliveryIds.length === 0) throw inactive(id)
    return queued
  })
  const deliveryId = deliveryIds[0] as string
  // Bounded below the HTTP server's 10 s idle timeout; a slower first attempt answers `attempt: null`.
  const first = webhooks.waitForAttempt(deliveryId, Math.min(deps.config.webhookTimeoutMs + 1000, TEST_WAIT_MAX_MS))
  webhooks.wake()
  const attempt = await first
  const row = await store.webhooks.getDelivery(siteId, deliveryId)
  return {
    delivery_id: deliveryId,
    event_id: eventId,
    status: row?.status ?? 'pending',
    next_attempt_utc: row?.next_attempt_ms != null ? isoUtc(row.next_attempt_ms) : null,
    attempt: attempt && {
      number: attempt.number,
      at_utc: isoUtc(attempt.at_ms),
      duration_ms: attempt.duration_ms,
      status_code: attempt.status_code,
      error: attempt.error,
      error_message: attempt.error_message,
      succeeded: attempt.error === null,
    },
  }
}
