/**
 * The names `TxStore.lock` takes, one builder per resource, so every transaction that writes one
 * resource names it the same way (and tests can hold the very lock a service takes). A name is
 * `<table>:<site id>[:<row id>]`: per row for a read-modify-write of that row, per site for a
 * limit or an order counted over the site's rows. Two different names never block each other
 * (bar a 64-bit hash collision on PostgreSQL, which costs a wait, never a wrong answer).
 */

/** One tag (PATCH merges name and color). */
export const tagLock = (siteId: number, id: number) => `tags:${siteId}:${id}`

/** One webhook subscription (PATCH merges url, events, description and active). */
export const webhookSubscriptionLock = (siteId: number, id: number) => `webhook_subscriptions:${siteId}:${id}`

/** A site's webhook subscriptions as a whole: the per-site limit is counted under it. */
export const siteWebhookSubscriptionsLock = (siteId: number) => `webhook_subscriptions:${siteId}`

/** One conversation starter (PATCH merges prompt, position and enabled). */
export const starterLock = (siteId: number, id: number) => `conversation_starters:${siteId}:${id}`

/** A site's conversation starters as a whole: a new one's position (after the last) is read under it. */
export const siteStartersLock = (siteId: number) => `conversation_starters:${siteId}`

/** One segment (PATCH merges name and rule). */
export const segmentLock = (siteId: number, id: number) => `segments:${siteId}:${id}`

/** One knowledge-base article (PATCH merges title and body). */
export const kbArticleLock = (siteId: number, id: number) => `kb_articles:${siteId}:${id}`

/** A site's chat settings (PATCH merges max_bot_replies and min_confidence). */
export const chatSettingsLock = (siteId: number) => `chat_settings:${siteId}`

/** A site's own row: name, plan and rate limit (updateSite), identity verification (site settings). */
export const siteLock = (siteId: number) => `sites:${siteId}`
