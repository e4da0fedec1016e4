/** Sites: create, update, list. Used by the CLI, the dashboard and first start. */
import type { Clock } from '../../clock'
import { siteLock } from '../../db/lock-keys'
import type { SiteRow } from '../../db/rows'
import type { Store } from '../../db/store'
import { BadRequestError, NotFoundError } from '../../errors'
import { randomSecret } from '../../random'
import { isPlan, PLAN_NAMES, siteRateLimit } from './plans'

/** What the CLI and API show of a site. */
export function presentSite(s: SiteRow) {
  return {
    id: s.id,
    name: s.name,
    plan: s.plan,
    rate_limit: siteRateLimit(s),
    rate_limit_override: s.rate_limit,
    publishable_key: s.publishable_key,
    created_utc: new Date(s.created_ms).toISOString(),
  }
}

function checkPlan(plan: string): void {
  if (!isPlan(plan)) throw new BadRequestError(`plan must be one of ${PLAN_NAMES.join(', ')}`, 'plan')
}

function checkRateLimit(n: number | null): void {
  if (n !== null && (!Number.isInteger(n) || n < 1 || n > 1_000_000)) {
    throw new BadRequestError('rate_limit must be an integer from 1 to 1000000', 'rate_limit')
  }
}

/** Creates a site with a fresh publishable key. */
export async function createSite(store: Store, clock: Clock, input: { name: string; plan?: string; rateLimit?: number | null }): Promise<SiteRow> {
  const name = input.name.trim()
  if (!name || name.length > 100) throw new BadRequestError('name must be 1-100 characters', 'name')
  const plan = input.plan ?? 'free'
  checkPlan(plan)
  checkRateLimit(input.rateLimit ?? null)
  const site = await store.sites.insert(name, plan, input.rateLimit ?? null, randomSecret('pk_', 18), clock.now())
  await store.meta.bump('auth_epoch')
  return site
}

/** Changes a site's plan, rate-limit override or name; running servers pick it up within a second. */
export async function updateSite(store: Store, id: number, changes: { name?: string; plan?: string; rateLimit?: number | null }): Promise<SiteRow> {
  // Read and rewrite in one transaction under the site's lock, taken before the read, so a
  // concurrent update of another field is not undone.
  const updated = await store.transaction(async (tx) => {
    await tx.lock(siteLock(id))
    const site = await tx.sites.byId(id)
    if (!site) throw new NotFoundError(`No site with id ${id}.`, 'id')
    if (changes.plan !== undefined) checkPlan(changes.plan)
    if (changes.rateLimit !== undefined) checkRateLimit(changes.rateLimit)
    return (await tx.sites.update(id, {
      name: changes.name ?? site.name,
      plan: changes.plan ?? site.plan,
      rate_limit: changes.rateLimit === undefined ? site.rate_limit : changes.rateLimit,
    })) as SiteRow
  })
  // After the commit: the auth cache of this process is dropped once the change is visible.
  await store.meta.bump('auth_epoch')
  return updated
}

/** On an empty data dir, creates site 1 so a new install is usable at once. */
export async function ensureFirstSite(store: Store, clock: Clock): Promise<SiteRow | null> {
  if ((await store.sites.count()) > 0) return null
  return createSite(store, clock, { name: 'My site' })
}
