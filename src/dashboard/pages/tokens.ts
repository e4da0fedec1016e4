/**
 * /dashboard/config_api_tokens.ascx: the site's API tokens with usage and a 30-day chart; create
 * (raw token shown once, with the quickstart's curl line), revoke and rotate behind a confirmation.
 * Every change goes through the token service, the same one the CLI and API use.
 */
import { Elysia } from 'elysia'
import { ApiError, BadRequestError } from '../../errors'
import { createToken, getToken, listTokens, revokeToken, rotateToken, tokenUsage } from '../../modules/tokens/service'
import { barChart, type Html, html, timeIso } from '../html'
import {
  csrfField,
  errorBox,
  formOf,
  href,
  htmlResponse,
  type Kit,
  noticeBox,
  type PageContext,
  page,
  redirect,
  requireCsrf,
  signedIn,
  TOKENS_PATH,
} from '../kit'

const NOTICES: Record<string, string> = { revoked: 'Token revoked: requests with it now get 401.' }

/** An id from a form or query; 400 naming `id` otherwise. */
export function idParam(raw: string | null): number {
  const n = Number(raw)
  if (!raw || !Number.isInteger(n) || n < 1) throw new BadRequestError('id must be a positive integer', 'id')
  return n
}

/** The origin API calls go to: the configured public URL, else the one the browser used. */
export function apiOrigin(ctx: PageContext): string {
  return ctx.kit.deps.config.publicUrl ? ctx.kit.deps.publicUrl : ctx.url.origin
}

function secretPanel(ctx: PageContext, token: { name: string; token: string }, heading: string): Html {
  const curl = `curl "${apiOrigin(ctx)}/v1/api.ashx?resource=tags" \\\n  -H "Authorization: Bearer ${token.token}"`
  return html`<section class="card" aria-labelledby="new-token-heading">
<h2 id="new-token-heading" tabindex="-1" autofocus>${heading}</h2>
<p>Copy it now: it is shown only this once (only its SHA-256 is stored). Export it as <code>$TOKEN</code> and call the API.</p>
<code id="new-token" class="secret">${token.token}</code>
<p class="actions"><button type="button" data-copy="new-token">Copy</button> <span id="new-token-status" role="status" class="muted"></span></p>
<p>Your first API call (lists the site's tags):</p>
<pre id="new-token-curl">${curl}</pre>
<p class="actions"><button type="button" class="secondary" data-copy="new-token-curl">Copy command</button> <span id="new-token-curl-status" role="status" class="muted"></span></p>
</section>`
}

async function tokensView(
  ctx: PageContext,
  o: { created?: { name: string; token: string }; heading?: string; error?: unknown; name?: string; scopes?: string },
): Promise<Html> {
  const { store, usage } = ctx.kit.deps
  const tokens = (await listTokens(store, ctx.site.id)).reverse()
  const usages: Awaited<ReturnType<typeof tokenUsage>>[] = []
  for (const t of tokens) usages.push(await tokenUsage(store, usage, t.id))
  const notice = NOTICES[ctx.url.searchParams.get('notice') ?? ''] ?? null
  const scopes = o.scopes ?? 'read'
  const rows = tokens.map((t, i) => {
    const u = usages[i] as Awaited<ReturnType<typeof tokenUsage>>
    const chart = barChart(
      u.daily.map((d) => ({ label: d.day, value: d.count })),
      { title: `Requests per day, last 30 days, token ${t.name}` },
    )
    const actions = t.revoked_utc
      ? html`<span class="badge bad">Revoked</span> ${timeIso(t.revoked_utc)}`
      : html`<div class="actions">
<form method="get" action="${TOKENS_PATH}"><input type="hidden" name="site" value="${ctx.site.id}"><input type="hidden" name="confirm" value="revoke"><input type="hidden" name="id" value="${t.id}"><button type="submit" class="danger" aria-describedby="token-${t.id}-name">Revoke</button></form>
<form method="get" action="${TOKENS_PATH}"><input type="hidden" name="site" value="${ctx.site.id}"><input type="hidden" name="confirm" value="rotate"><input type="hidden" name="id" value="${t.id}"><button type="submit" class="secondary" aria-describedby="token-${t.id}-name">Rotate</button></form>
</div>`
    return html`<tr data-token-id="${t.id}">
<td data-label="Name" id="token-${t.id}-name">${t.name}</td>
<td data-label="Prefix"><code>${t.prefix}</code></td>
<td data-label="Scopes">${t.scopes.join(', ')}</td>
<td data-label="Created">${timeIso(t.created_utc)}</td>
<td data-label="Last used">${timeIso(u.last_used_utc)}</td>
<td data-label="Requests" class="requests">${u.request_count}</td>
<td data-label="Last 30 days">${chart}</td>
<td data-label="Actions">${actions}</td>
</tr>`
  })
  return page(
    ctx,
    'API tokens',
    html`${noticeBox(notice)}${errorBox(o.error)}
${o.created ? secretPanel(ctx, o.created, o.heading ?? 'Your new token') : ''}
<section class="card" aria-labelledby="create-heading">
<h2 id="create-heading">Create a token</h2>
<form method="post" action="${href(ctx, TOKENS_PATH)}">
${csrfField(ctx)}<input type="hidden" name="action" value="create">
<label for="token-name">Name</label>
<input id="token-name" name="name" type="text" maxlength="100" required value="${o.name ?? ''}" placeholder="e.g. CRM sync">
<fieldset class="choices"><legend>Scopes</legend>
<label><input type="radio" name="scopes" value="read"${scopes === 'read' ? html` checked` : ''}> Read</label>
<label><input type="radio" name="scopes" value="read,write"${scopes === 'read,write' ? html` checked` : ''}> Read + write</label>
</fieldset>
<p><button type="submit">Create token</button></p>
</form>
</section>
<h2>Tokens of ${ctx.site.name}</h2>
${
  tokens.length === 0
    ? html`<p class="muted">No tokens yet. Create one above, then follow the curl line it shows.</p>`
    : html`<div class="table-wrap"><table class="stack" aria-label="API tokens">
<thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Requests</th><th scope="col">Last 30 days</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${rows}</tbody></table></div>`
}
<p class="muted">Requests are counted per token; the chart shows requests per UTC day. Rate limit: ${ctx.site.plan} plan.</p>`,
    TOKENS_PATH,
  )
}

const CONFIRM = {
  revoke: { title: 'Revoke token', button: 'Revoke', danger: true, text: 'Every app using it gets 401 at once. This cannot be undone.' },
  rotate: {
    title: 'Rotate token',
    button: 'Rotate',
    danger: false,
    text: 'A new secret is made and shown once; the current one stops working at once. Name, scopes and counts stay.',
  },
} as const

async function confirmView(ctx: PageContext, action: keyof typeof CONFIRM, id: number): Promise<Response> {
  const token = await getToken(ctx.kit.deps.store, id, ctx.site.id)
  if (token.revoked_utc) throw new BadRequestError(`Token "${token.name}" is already revoked.`, 'id')
  const c = CONFIRM[action]
  return htmlResponse(
    page(
      ctx,
      c.title,
      html`<section class="card" role="alertdialog" aria-labelledby="confirm-q" aria-describedby="confirm-text">
<p id="confirm-q"><strong>${c.button} “${token.name}”</strong> (<code>${token.prefix}</code>, ${token.scopes.join(', ')})?</p>
<p id="confirm-text">${c.text}</p>
<form method="post" action="${href(ctx, TOKENS_PATH)}" class="actions">
${csrfField(ctx)}<input type="hidden" name="action" value="${action}"><input type="hidden" name="id" value="${token.id}">
<button type="submit"${c.danger ? html` class="danger"` : ''}>${c.button}</button>
<a class="button secondary" href="${href(ctx, TOKENS_PATH)}" autofocus>Cancel</a>
</form>
</section>`,
      TOKENS_PATH,
    ),
  )
}

/** The tokens page routes. */
export function tokenRoutes(kit: Kit) {
  const { store, clock } = kit.deps
  return new Elysia()
    .get('/config_api_tokens.ascx', async ({ request }) => {
      const ctx = await signedIn(kit, request)
      const confirm = ctx.url.searchParams.get('confirm')
      if (confirm === 'revoke' || confirm === 'rotate') return confirmView(ctx, confirm, idParam(ctx.url.searchParams.get('id')))
      return htmlResponse(await tokensView(ctx, {}))
    })
    .post('/config_api_tokens.ascx', async ({ request, body }) => {
      const ctx = await signedIn(kit, request)
      const form = formOf(body)
      requireCsrf(ctx, form)
      const action = form.get('action')
      try {
        if (action === 'create') {
          const created = await createToken(store, clock, { siteId: ctx.site.id, scopes: form.get('scopes') || 'read', name: form.get('name') })
          return htmlResponse(await tokensView(ctx, { created, heading: `Token “${created.name}” created` }), 201)
        }
        if (action === 'revoke') {
          await revokeToken(store, clock, idParam(form.get('id')), ctx.site.id)
          return redirect(href(ctx, TOKENS_PATH, { notice: 'revoked' }))
        }
        if (action === 'rotate') {
          const rotated = await rotateToken(store, idParam(form.get('id')), ctx.site.id)
          return htmlResponse(await tokensView(ctx, { created: rotated, heading: `Token “${rotated.name}” rotated: here is its new value` }))
        }
        throw new BadRequestError('action must be create, revoke or rotate', 'action')
      } catch (err) {
        if (!(err instanceof ApiError) || err.status === 404) throw err
        return htmlResponse(await tokensView(ctx, { error: err, name: form.get('name'), scopes: form.get('scopes') }), err.status)
      }
    })
}
