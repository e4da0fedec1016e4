/** Plans and their per-token rate limits (requests per minute), from the product page. */
export const PLANS = { free: 60, starter: 200, growth: 600 } as const
export type Plan = keyof typeof PLANS
export const PLAN_NAMES = Object.keys(PLANS) as Plan[]

/** True when `s` names a plan. */
export function isPlan(s: string): s is Plan {
  return Object.hasOwn(PLANS, s)
}

/** The per-minute bucket capacity of a site: its override, else its plan's. */
export function siteRateLimit(site: { plan: string; rate_limit: number | null }): number {
  return site.rate_limit ?? PLANS[site.plan as Plan] ?? PLANS.free
}
