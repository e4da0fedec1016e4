/**
 * /dashboard/webhooks: subscriptions (create, edit events, activate/deactivate, rotate the secret
 * shown once, send a test ping) and /dashboard/webhooks/deliveries: the delivery log with each
 * attempt's request headers, status, timing, error and response excerpt, and a retry button for
 * failed and dead deliveries. Everything goes through the webhook services the API uses.
 */
import { Elysia } from 'elysia'
import { BadRequestError, NotFoundError } from '../../errors'
import { type DeliveryDetail, DeliveryIdParams, ListDeliveriesQuery } from '../../modules/webhook_deliveries/model'
import { getDelivery, listDeliveries, retryDelivery } from '../../modules/webhook_deliveries/service'
import { CreateSubscriptionBody, type Subscription, UpdateSubscriptionBody } from '../../modules/webhook_subscriptions/model'
import {
  createSubscription,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  rotateSecret,
  testSubscription,
  updateSubscription,
} from '../../modules/webhook_subscriptions/service'
import { type Html, html, raw, timeIso } from '../html'
import {
  attempt,
  checkInput,
  confirmPage,
  csrfField,
  errorBox,
  type Form,
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
} from '../kit'
import { idParam } from './tokens'

export const WEBHOOKS_PATH = '/dashboard/webhooks'
export const DELIVERIES_PATH = '/dashboard/webhooks/deliveries'

const EVENTS: [string, string][] = [
  ['handoff', 'Handoff (a chat goes to a human)'],
  ['feedback', 'Feedback (a visitor rates a chat)'],
  ['ping', 'Ping (test events)'],
  ['*', 'All events'],
]
const NOTICES: Record<string, string> = {
  updated: 'Endpoint saved.',
  activated: 'Endpoint active: new events are delivered to it.',
  deactivated: 'Endpoint inactive: nothing is delivered; queued deliveries were dead-lettered (retry them from the log).',
  deleted: 'Endpoint deleted with its delivery log.',
  retried: 'Delivery queued for an immediate attempt.',
}
const STATUS_BADGE: Record<string, string> = { succeeded: 'good', failed: 'wait', pending: 'wait', dead: 'bad' }
const STATUS_WORDS: Record<string, string> = { succeeded: 'Succeeded', failed: 'Failed (retrying)', pending: 'Pending', dead: 'Dead (no more retries)' }

interface Draft {
  url: string
  events: string[]
  description: string
  active: boolean
}

function statusBadge(status: string): Html {
  return html`<span class="badge ${STATUS_BADGE[status] ?? ''}">${STATUS_WORDS[status] ?? status}</span>`
}

function fields(prefix: string, d: Draft, withActive: boolean): Html {
  return html`<label for="${prefix}-url">Endpoint URL</label>
<input id="${prefix}-url" name="url" type="url" maxlength="2048" required value="${d.url}" placeholder="https://example.com/hooks/mlc">
<fieldset class="choices"><legend>Events</legend>${EVENTS.map(
    ([value, label]) => html`<label><input type="checkbox" name="events" value="${value}"${d.events.includes(value) ? raw(' checked') : ''}> ${label}</label>`,
  )}</fieldset>
<label for="${prefix}-description">Description</label>
<input id="${prefix}-description" name="description" type="text" maxlength="256" value="${d.description}" placeholder="CRM sync">
${withActive ? html`<p><label class="inline"><input type="checkbox" name="active" value="1"${d.active ? raw(' checked') : ''}> Active</label></p>` : ''}`
}

function draftOf(form: Form): Draft {
  return { url: form.get('url'), events: form.all('events'), description: form.get('description'), active: form.get('active') === '1' }
}

function secretPanel(secret: string, heading: string, grace?: string | null): Html {
  return html`<section class="card" aria-labelledby="secret-heading">
<h2 id="secret-heading" tabindex="-1" autofocus>${heading}</h2>
<p>Copy the signing secret now: it is shown only this once. Verify each delivery's <code>X-MLC-Signature</code> (HMAC-SHA256 of the raw body) or its Standard Webhooks <code>webhook-signature</code> with it.${grace ? html` Deliveries until ${timeIso(grace)} also carry a signature made with the previous secret.` : ''}</p>
<code id="webhook-secret" class="secret">${secret}</code>
<p class="actions"><button type="button" data-copy="webhook-secret">Copy</button> <span id="webhook-secret-status" role="status" class="muted"></span></p>
</section>`
}

function subscriptionRow(ctx: PageContext, s: Subscription): Html {
  const state = s.active
    ? html`<span class="badge good">Active</span>`
    : html`<span class="badge bad">Inactive</span>${s.disabled_reason === 'gone' ? html` <span class="muted">(the endpoint answered 410 Gone)</span>` : ''}`
  const post = (action: string, label: string, cls = 'secondary') =>
    html`<form method="post" action="${href(ctx, WEBHOOKS_PATH)}">${csrfField(ctx)}<input type="hidden" name="action" value="${action}"><input type="hidden" name="id" value="${s.id}"><button type="submit" class="${cls}" aria-describedby="sub-${s.id}-url">${label}</button></form>`
  const link = (params: Record<string, string | number>, label: string, target = WEBHOOKS_PATH) =>
    html`<a class="button secondary" href="${href(ctx, target, params)}" aria-describedby="sub-${s.id}-url">${label}</a>`
  return html`<tr>
<td data-label="Endpoint"><code id="sub-${s.id}-url">${s.url}</code>${s.description ? html`<br><span class="muted">${s.description}</span>` : ''}</td>
<td data-label="Events">${s.events.join(', ')}</td>
<td data-label="State">${state}</td>
<td data-label="Secret"><code>${s.secret_prefix}…</code></td>
<td data-label="Actions"><div class="actions">
${s.active ? post('test', 'Send test', '') : ''}
${link({ subscription: s.id }, 'Deliveries', DELIVERIES_PATH)}
${link({ edit: s.id }, 'Edit')}
${link({ confirm: 'rotate', id: s.id }, 'Rotate secret')}
${s.active ? link({ confirm: 'deactivate', id: s.id }, 'Deactivate') : post('activate', 'Activate')}
${link({ confirm: 'delete', id: s.id }, 'Delete')}
</div></td></tr>`
}

async function subscriptionsView(
  ctx: PageContext,
  o: { draft?: Draft; error?: unknown; status?: number; secret?: { value: string; heading: string; grace?: string | null } } = {},
): Promise<Response> {
  const deps = ctx.kit.deps
  const subs = await listSubscriptions(deps, ctx.site.id)
  const notice = NOTICES[ctx.url.searchParams.get('notice') ?? ''] ?? null
  return htmlResponse(
    page(
      ctx,
      'Webhooks',
      html`${noticeBox(notice)}${errorBox(o.error)}${o.secret ? secretPanel(o.secret.value, o.secret.heading, o.secret.grace) : ''}
<p>Each event is POSTed to your endpoints, signed, and retried after 30 s, 2 m, 10 m, 1 h and 6 h before it is dead-lettered. <a href="${href(ctx, DELIVERIES_PATH)}">Delivery log</a></p>
${
  subs.length
    ? html`<div class="table-wrap"><table class="stack" aria-label="Webhook endpoints"><thead><tr><th scope="col">Endpoint</th><th scope="col">Events</th><th scope="col">State</th><th scope="col">Secret</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>${subs.map((s) => subscriptionRow(ctx, s))}</tbody></table></div>`
    : html`<p class="muted">No endpoints yet.</p>`
}
<section class="card" aria-labelledby="new-endpoint"><h2 id="new-endpoint">Add an endpoint</h2>
<form method="post" action="${href(ctx, WEBHOOKS_PATH)}">${csrfField(ctx)}<input type="hidden" name="action" value="create">
${fields('new-endpoint', o.draft ?? { url: '', events: ['handoff', 'feedback'], description: '', active: true }, false)}
<p><button type="submit">Add endpoint</button></p></form></section>`,
      WEBHOOKS_PATH,
    ),
    o.status,
  )
}

function editView(ctx: PageContext, id: number, d: Draft, o: { error?: unknown; status?: number } = {}) {
  return htmlResponse(
    page(
      ctx,
      'Edit endpoint',
      html`${errorBox(o.error)}<form method="post" action="${href(ctx, WEBHOOKS_PATH)}" class="card">${csrfField(ctx)}
<input type="hidden" name="action" value="update"><input type="hidden" name="id" value="${id}">
${fields('edit-endpoint', d, true)}
<p class="actions"><button type="submit">Save endpoint</button> <a class="button secondary" href="${href(ctx, WEBHOOKS_PATH)}">Cancel</a></p></form>`,
      WEBHOOKS_PATH,
    ),
    o.status,
  )
}

function lastResult(d: { last_status_code: number | null; last_error: string | null }): Html {
  if (d.last_status_code === null && d.last_error === null) return html`<span class="muted">not tried yet</span>`
  return html`${d.last_status_code !== null ? `HTTP ${d.last_status_code}` : ''}${d.last_error ? html` <span class="muted">(${d.last_error})</span>` : ''}`
}

function retryForm(ctx: PageContext, id: string, back: Record<string, string>): Html {
  return html`<form method="post" action="${href(ctx, DELIVERIES_PATH, back)}">${csrfField(ctx)}<input type="hidden" name="action" value="retry"><input type="hidden" name="id" value="${id}"><button type="submit" class="secondary" aria-describedby="dlv-${id}">Retry</button></form>`
}

async function deliveriesView(ctx: PageContext, o: { error?: unknown; status?: number } = {}): Promise<Response> {
  const deps = ctx.kit.deps
  const q = ctx.url.searchParams
  const subs = await listSubscriptions(deps, ctx.site.id)
  const urlOf = new Map(subs.map((s) => [s.id, s.url]))
  const filter = { subscription: q.get('subscription') ?? '', status: q.get('status') ?? '', event: q.get('event') ?? '' }
  const query = {
    limit: 25,
    ...(filter.subscription ? { subscription_id: Number(filter.subscription) } : {}),
    ...(filter.status ? { status: filter.status } : {}),
    ...(filter.event ? { event: filter.event } : {}),
    ...(q.get('cursor') ? { cursor: q.get('cursor') as string } : {}),
  }
  const result = await listDeliveries(deps, ctx.site.id, checkInput(ListDeliveriesQuery, query))
  const notice = NOTICES[q.get('notice') ?? ''] ?? null
  const select = (name: string, label: string, options: [string, string][], value: string) =>
    html`<div><label for="filter-${name}">${label}</label><select id="filter-${name}" name="${name}">${options.map(
      ([v, l]) => html`<option value="${v}"${v === value ? raw(' selected') : ''}>${l}</option>`,
    )}</select></div>`
  const rows = result.items.map(
    (d) => html`<tr>
<td data-label="When">${timeIso(d.created_utc)}</td>
<td data-label="Event">${d.event}</td>
<td data-label="Endpoint"><code>${urlOf.get(d.subscription_id) ?? `#${d.subscription_id}`}</code></td>
<td data-label="Status">${statusBadge(d.status)}</td>
<td data-label="Attempts">${d.attempts}</td>
<td data-label="Last result">${lastResult(d)}</td>
<td data-label="Next attempt">${d.next_attempt_utc ? timeIso(d.next_attempt_utc) : html`<span class="muted">none</span>`}</td>
<td data-label="Actions"><div class="actions"><a id="dlv-${d.id}" class="button secondary" href="${href(ctx, DELIVERIES_PATH, { id: d.id })}" aria-label="Details of the ${d.event} delivery ${d.id}">Details</a>
${d.status === 'failed' || d.status === 'dead' ? retryForm(ctx, d.id, filter) : ''}</div></td></tr>`,
  )
  const next = result.next_cursor ? href(ctx, DELIVERIES_PATH, { ...filter, cursor: result.next_cursor }) : null
  return htmlResponse(
    page(
      ctx,
      'Webhook deliveries',
      html`${noticeBox(notice)}${errorBox(o.error)}
<p><a href="${href(ctx, WEBHOOKS_PATH)}">Endpoints</a></p>
<form method="get" action="${DELIVERIES_PATH}" class="card actions" aria-label="Filter deliveries">
<input type="hidden" name="site" value="${ctx.site.id}">
${select('subscription', 'Endpoint', [['', 'All endpoints'], ...subs.map((s): [string, string] => [String(s.id), s.url])], filter.subscription)}
${select(
  'status',
  'Status',
  [
    ['', 'Any status'],
    ['pending', 'Pending'],
    ['succeeded', 'Succeeded'],
    ['failed', 'Failed (retrying)'],
    ['dead', 'Dead'],
  ],
  filter.status,
)}
${select(
  'event',
  'Event',
  [
    ['', 'Any event'],
    ['handoff', 'handoff'],
    ['feedback', 'feedback'],
    ['ping', 'ping'],
  ],
  filter.event,
)}
<button type="submit">Filter</button>
</form>
<div id="delivery-log" data-refresh="2000" aria-live="polite">
${
  result.items.length
    ? html`<div class="table-wrap"><table class="stack" aria-label="Deliveries"><thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Endpoint</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last result</th><th scope="col">Next attempt</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>${rows}</tbody></table></div>`
    : html`<p class="muted">No deliveries yet. Send a test from an endpoint to see one here.</p>`
}
</div>
${next ? html`<p><a class="button secondary" href="${next}">Older deliveries</a></p>` : ''}`,
      DELIVERIES_PATH,
    ),
    o.status,
  )
}

function attemptCard(a: DeliveryDetail['attempt_log'][number]): Html {
  const outcome = a.error ? html`<span class="badge bad">${a.error}</span> ${a.error_message ?? ''}` : html`<span class="badge good">OK</span>`
  return html`<section class="card" aria-label="Attempt ${a.number}">
<h3>Attempt ${a.number}</h3>
<div class="table-wrap"><table><tbody>
<tr><th scope="row">At</th><td>${timeIso(a.at)}</td></tr>
<tr><th scope="row">URL</th><td><code>${a.url}</code></td></tr>
<tr><th scope="row">Response status</th><td>${a.status_code ?? html`<span class="muted">none</span>`}</td></tr>
<tr><th scope="row">Duration</th><td>${a.duration_ms} ms</td></tr>
<tr><th scope="row">Outcome</th><td>${outcome}</td></tr>
</tbody></table></div>
<h4>Request headers</h4>
<div class="table-wrap"><table aria-label="Request headers of attempt ${a.number}"><tbody>${Object.entries(a.request_headers).map(
    ([k, v]) => html`<tr><th scope="row"><code>${k}</code></th><td><code>${v}</code></td></tr>`,
  )}</tbody></table></div>
<h4>Response body (first 4 KB)</h4>
${a.response_body ? html`<pre>${a.response_body}</pre>` : html`<p class="muted">Empty.</p>`}
</section>`
}

async function deliveryView(ctx: PageContext, id: string): Promise<Response> {
  const deps = ctx.kit.deps
  const d = await getDelivery(deps, ctx.site.id, checkInput(DeliveryIdParams, { id }).id)
  const sub = (await listSubscriptions(deps, ctx.site.id)).find((s) => s.id === d.subscription_id)
  const notice =
    ctx.url.searchParams.get('notice') === 'test'
      ? 'Test ping sent through the queue: here is its delivery.'
      : (NOTICES[ctx.url.searchParams.get('notice') ?? ''] ?? null)
  return htmlResponse(
    page(
      ctx,
      `Delivery ${d.id}`,
      html`${noticeBox(notice)}<p><a href="${href(ctx, DELIVERIES_PATH)}">Delivery log</a></p>
<div id="delivery-detail" data-refresh="2000" aria-live="polite">
<section class="card" aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2>
<div class="table-wrap"><table><tbody>
<tr><th scope="row">Status</th><td id="dlv-${d.id}">${statusBadge(d.status)}</td></tr>
<tr><th scope="row">Event</th><td>${d.event} <code>${d.event_id}</code></td></tr>
<tr><th scope="row">Endpoint</th><td><code>${sub?.url ?? `#${d.subscription_id}`}</code></td></tr>
<tr><th scope="row">Attempts</th><td>${d.attempts}</td></tr>
<tr><th scope="row">Next attempt</th><td>${d.next_attempt_utc ? timeIso(d.next_attempt_utc) : html`<span class="muted">none</span>`}</td></tr>
<tr><th scope="row">Created</th><td>${timeIso(d.created_utc)}</td></tr>
</tbody></table></div>
${d.status === 'failed' || d.status === 'dead' ? html`<div class="actions">${retryForm(ctx, d.id, { id: d.id })}</div>` : ''}
</section>
<h2>Attempts</h2>
${d.attempt_log.length ? [...d.attempt_log].reverse().map(attemptCard) : html`<p class="muted">Not attempted yet.</p>`}
</div>`,
      DELIVERIES_PATH,
    ),
  )
}

const CONFIRM = {
  rotate: {
    title: 'Rotate signing secret',
    button: 'Rotate',
    detail:
      'A new secret is shown once. For a grace window deliveries are signed with both the new and the old secret, so you can switch receivers without dropping events.',
    danger: false,
  },
  deactivate: {
    title: 'Deactivate endpoint',
    button: 'Deactivate',
    detail: 'Nothing is sent to it while inactive; deliveries still queued are dead-lettered (you can retry them later).',
    danger: true,
  },
  delete: { title: 'Delete endpoint', button: 'Delete', detail: 'Pending deliveries stop and its delivery log is deleted too.', danger: true },
} as const

/** The webhooks pages' routes. */
export function webhookRoutes(kit: Kit) {
  const deps = kit.deps
  return new Elysia()
    .get('/webhooks', async ({ request }) => {
      const ctx = await signedIn(kit, request)
      const q = ctx.url.searchParams
      if (q.has('edit')) {
        const s = await getSubscription(deps, ctx.site.id, idParam(q.get('edit')))
        return editView(ctx, s.id, { url: s.url, events: s.events, description: s.description, active: s.active })
      }
      const confirm = q.get('confirm')
      if (confirm === 'rotate' || confirm === 'deactivate' || confirm === 'delete') {
        const s = await getSubscription(deps, ctx.site.id, idParam(q.get('id')))
        const c = CONFIRM[confirm]
        return confirmPage(ctx, {
          title: c.title,
          question: `${c.button} ${s.url}?`,
          detail: c.detail,
          path: WEBHOOKS_PATH,
          fields: { action: confirm, id: s.id },
          button: c.button,
          danger: c.danger,
          active: WEBHOOKS_PATH,
        })
      }
      return subscriptionsView(ctx)
    })
    .post('/webhooks', async ({ request, body }) => {
      const ctx = await signedIn(kit, request)
      const form = formOf(body)
      requireCsrf(ctx, form)
      const action = form.get('action')
      const draft = draftOf(form)
      if (action === 'create') {
        return attempt(
          async () => {
            const input = { url: draft.url, events: draft.events, description: draft.description }
            const created = await createSubscription(deps, ctx.site.id, checkInput(CreateSubscriptionBody, input))
            return subscriptionsView(ctx, { secret: { value: created.secret, heading: `Endpoint added: ${created.url}` }, status: 201 })
          },
          (err) => subscriptionsView(ctx, { draft, error: err, status: err.status }),
        )
      }
      const id = idParam(form.get('id'))
      switch (action) {
        case 'update':
          return attempt(
            async () => {
              const input = { url: draft.url, events: draft.events, description: draft.description, active: draft.active }
              await updateSubscription(deps, ctx.site.id, id, checkInput(UpdateSubscriptionBody, input))
              return redirect(href(ctx, WEBHOOKS_PATH, { notice: 'updated' }))
            },
            (err) => editView(ctx, id, draft, { error: err, status: err.status }),
          )
        case 'activate':
        case 'deactivate':
          await updateSubscription(deps, ctx.site.id, id, { active: action === 'activate' })
          return redirect(href(ctx, WEBHOOKS_PATH, { notice: `${action}d` }))
        case 'delete':
          await deleteSubscription(deps, ctx.site.id, id)
          return redirect(href(ctx, WEBHOOKS_PATH, { notice: 'deleted' }))
        case 'rotate': {
          const rotated = await rotateSecret(deps, ctx.site.id, id)
          return subscriptionsView(ctx, {
            secret: { value: rotated.secret, heading: `New signing secret for ${rotated.url}`, grace: rotated.previous_secret_valid_until_utc },
          })
        }
        case 'test':
          return attempt(
            async () => {
              const result = await testSubscription(deps, ctx.site.id, id)
              return redirect(href(ctx, DELIVERIES_PATH, { id: result.delivery_id, notice: 'test' }))
            },
            (err) => subscriptionsView(ctx, { error: err, status: err.status }),
          )
        default:
          throw new BadRequestError('action must be create, update, activate, deactivate, delete, rotate or test', 'action')
      }
    })
    .get('/webhooks/deliveries', async ({ request }) => {
      const ctx = await signedIn(kit, request)
      const id = ctx.url.searchParams.get('id')
      return id ? deliveryView(ctx, id) : deliveriesView(ctx)
    })
    .post('/webhooks/deliveries', async ({ request, body }) => {
      const ctx = await signedIn(kit, request)
      const form = formOf(body)
      requireCsrf(ctx, form)
      if (form.get('action') !== 'retry') throw new NotFoundError('Unknown action.', 'action')
      const id = checkInput(DeliveryIdParams, { id: form.get('id') }).id
      const back = Object.fromEntries([...ctx.url.searchParams].filter(([k]) => k !== 'site' && k !== 'notice'))
      return attempt(
        async () => {
          await retryDelivery(deps, ctx.site.id, id)
          return redirect(href(ctx, DELIVERIES_PATH, { ...back, notice: 'retried' }))
        },
        (err) => deliveriesView(ctx, { error: err, status: err.status }),
      )
    })
}
