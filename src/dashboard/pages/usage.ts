/**
 * /dashboard/usage: this billing cycle's AI replies and bot tokens (the `usage` resource's
 * numbers, from the chat engine's service) and API requests per day over the last 30 days,
 * summed over the site's tokens from the token service's daily rollup.
 */
import { Elysia } from 'elysia'
import { siteRateLimit } from '../../modules/sites/plans'
import { listTokens, tokenUsage } from '../../modules/tokens/service'
import { currentUsage } from '../../modules/usage/service'
import { barChart, html, timeIso } from '../html'
import { href, htmlResponse, type Kit, page, signedIn, TOKENS_PATH } from '../kit'

export const USAGE_PATH = '/dashboard/usage'

/** The usage page route. */
export function usageRoutes(kit: Kit) {
  const { store, usage, chat } = kit.deps
  return new Elysia().get('/usage', async ({ request }) => {
    const ctx = await signedIn(kit, request)
    const bot = await currentUsage(chat, ctx.site.id)
    const byDay = new Map<string, number>()
    for (const t of await listTokens(store, ctx.site.id)) {
      for (const d of (await tokenUsage(store, usage, t.id)).daily) byDay.set(d.day, (byDay.get(d.day) ?? 0) + d.count)
    }
    const days = [...byDay].sort(([a], [b]) => a.localeCompare(b))
    const total = days.reduce((s, [, n]) => s + n, 0)
    const nf = new Intl.NumberFormat('en')
    return htmlResponse(
      page(
        ctx,
        'Usage',
        html`<section class="card" aria-labelledby="cycle-h"><h2 id="cycle-h">This billing cycle</h2>
<p>From ${timeIso(bot.cycle_start_utc)} to ${timeIso(bot.cycle_end_utc)} (monthly, from the day the site was created).</p>
<div class="table-wrap"><table aria-labelledby="cycle-h"><tbody>
<tr><th scope="row">AI replies served</th><td id="usage-ai-replies">${nf.format(bot.ai_replies)}</td></tr>
<tr><th scope="row">Bot tokens used</th><td id="usage-bot-tokens">${nf.format(bot.bot_tokens)}</td></tr>
<tr><th scope="row">Bot provider</th><td>${bot.provider} <span class="muted">(tokens counted by ${bot.tokenizer})</span></td></tr>
</tbody></table></div>
<p class="muted">The API returns the same numbers at <code>GET /v1/api.ashx?resource=usage</code>.</p></section>
<section class="card" aria-labelledby="api-h"><h2 id="api-h">API requests, last 30 days</h2>
<p><strong id="usage-api-requests">${nf.format(total)}</strong> requests with this site's tokens; limit ${siteRateLimit(ctx.site)} requests per minute per token (${ctx.site.plan} plan).</p>
${barChart(
  days.map(([day, n]) => ({ label: day, value: n })),
  { title: 'API requests per day, last 30 days', width: 300, height: 60 },
)}
<p><a href="${href(ctx, TOKENS_PATH)}">Per token</a></p></section>`,
        USAGE_PATH,
      ),
    )
  })
}
