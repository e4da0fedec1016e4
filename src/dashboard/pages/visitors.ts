/**
 * /dashboard/visitors: find visitors by key or email (or list a segment's members), and a profile
 * with attributes, recent events and segments; erasure behind a confirmation. Reads and erases
 * through the visitors service, the one the API uses.
 */
import { Elysia } from 'elysia'
import { ApiError, NotFoundError } from '../../errors'
import { listSegments } from '../../modules/segments/service'
import type { AttributeValue } from '../../modules/visitors/model'
import { deleteVisitor, getVisitor, listVisitors } from '../../modules/visitors/service'
import { type Html, html, raw, timeIso } from '../html'
import { confirmPage, errorBox, formOf, href, htmlResponse, type Kit, noticeBox, type PageContext, page, redirect, requireCsrf, signedIn } from '../kit'
import { SEGMENTS_PATH } from './segments'

export const VISITORS_PATH = '/dashboard/visitors'
const NOTICES: Record<string, string> = { erased: 'Visitor erased: their attributes, events and segment memberships are gone.' }

/** An attribute or property value as text. */
function valueText(v: AttributeValue | unknown): string {
  return Array.isArray(v) ? v.map((x) => String(x)).join(', ') : String(v)
}

async function searchForm(ctx: PageContext, q: string, segment: string): Promise<Html> {
  const segments = await listSegments(ctx.kit.deps.store, ctx.site.id)
  return html`<form method="get" action="${VISITORS_PATH}" class="card" role="search">
<input type="hidden" name="site" value="${ctx.site.id}">
<label for="visitor-q">Key or email</label>
<input id="visitor-q" name="q" type="search" value="${q}" placeholder="u_42 or jay@example.com">
<label for="visitor-segment">Segment</label>
<select id="visitor-segment" name="segment"><option value="">All visitors</option>${segments.map(
    (s) => html`<option value="${s.id}"${String(s.id) === segment ? raw(' selected') : ''}>${s.name} (${s.member_count})</option>`,
  )}</select>
<p><button type="submit">Search</button></p>
</form>`
}

async function listView(ctx: PageContext): Promise<Response> {
  const { store } = ctx.kit.deps
  const params = ctx.url.searchParams
  const q = (params.get('q') ?? '').trim()
  const segment = params.get('segment') ?? ''
  const notice = NOTICES[params.get('notice') ?? ''] ?? null
  let error: unknown = null
  let status = 200
  let result: Awaited<ReturnType<typeof listVisitors>> = { items: [], has_more: false, next_cursor: null }
  try {
    if (q && !q.includes('@')) {
      // A key names one visitor: go to the profile.
      await getVisitor(store, ctx.site.id, q)
      return redirect(href(ctx, VISITORS_PATH, { key: q }))
    }
    const segmentId = segment ? Number(segment) : undefined
    if (segmentId !== undefined && !(Number.isInteger(segmentId) && segmentId > 0)) throw new NotFoundError(`No segment with id ${segment}.`, 'segment')
    result = await listVisitors(store, ctx.site.id, { limit: 25, cursor: params.get('cursor') ?? undefined, segment: segmentId, email: q || undefined })
  } catch (err) {
    if (!(err instanceof ApiError)) throw err
    error = err
    status = err.status
  }
  const rows = result.items.map(
    (v) => html`<tr>
<td data-label="Key"><a href="${href(ctx, VISITORS_PATH, { key: v.key })}">${v.key}</a></td>
<td data-label="Name">${v.name ?? html`<span class="muted">none</span>`}</td>
<td data-label="Email">${v.email ?? html`<span class="muted">none</span>`}</td>
<td data-label="Last seen">${timeIso(v.last_seen_utc)}</td>
<td data-label="Events">${v.event_count}</td>
<td data-label="Segments">${v.segments.map((s) => s.name).join(', ') || html`<span class="muted">none</span>`}</td>
</tr>`,
  )
  const next = result.next_cursor ? href(ctx, VISITORS_PATH, { q, segment, cursor: result.next_cursor }) : null
  const search = await searchForm(ctx, q, segment)
  return htmlResponse(
    page(
      ctx,
      'Visitors',
      html`${noticeBox(notice)}${errorBox(error)}${search}
${
  result.items.length
    ? html`<div class="table-wrap"><table class="stack" aria-label="Visitors"><thead><tr><th scope="col">Key</th><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Last seen</th><th scope="col">Events</th><th scope="col">Segments</th></tr></thead><tbody>${rows}</tbody></table></div>`
    : html`<p class="muted">${q || segment ? 'No visitors match.' : 'No visitors yet. Identify one with POST /v1/api.ashx?resource=visitors or the visitor SDK.'}</p>`
}
${next ? html`<p><a class="button secondary" href="${next}">Next page</a></p>` : ''}`,
      VISITORS_PATH,
    ),
    status,
  )
}

async function profileView(ctx: PageContext, key: string): Promise<Response> {
  const v = await getVisitor(ctx.kit.deps.store, ctx.site.id, key)
  const attrs = Object.entries(v.attributes)
  return htmlResponse(
    page(
      ctx,
      `Visitor ${v.key}`,
      html`<p><a href="${href(ctx, VISITORS_PATH)}">All visitors</a></p>
<section class="card" aria-labelledby="profile-h"><h2 id="profile-h">Profile</h2>
<div class="table-wrap"><table aria-labelledby="profile-h"><tbody>
<tr><th scope="row">Key</th><td>${v.key}</td></tr>
<tr><th scope="row">Name</th><td>${v.name ?? html`<span class="muted">none</span>`}</td></tr>
<tr><th scope="row">Email</th><td>${v.email ?? html`<span class="muted">none</span>`}</td></tr>
<tr><th scope="row">First seen</th><td>${timeIso(v.first_seen_utc)}</td></tr>
<tr><th scope="row">Last seen</th><td>${timeIso(v.last_seen_utc)}</td></tr>
<tr><th scope="row">Events</th><td>${v.event_count}</td></tr>
</tbody></table></div></section>
<section class="card" aria-labelledby="attrs-h"><h2 id="attrs-h">Attributes</h2>
${
  attrs.length
    ? html`<div class="table-wrap"><table aria-labelledby="attrs-h"><thead><tr><th scope="col">Attribute</th><th scope="col">Value</th></tr></thead><tbody>${attrs.map(
        ([k, val]) => html`<tr><td>${k}</td><td>${valueText(val)}</td></tr>`,
      )}</tbody></table></div>`
    : html`<p class="muted">No custom attributes.</p>`
}</section>
<section class="card" aria-labelledby="segments-h"><h2 id="segments-h">Segments</h2>
${
  v.segments.length
    ? html`<ul>${v.segments.map((s) => html`<li><a href="${href(ctx, SEGMENTS_PATH, { edit: s.id })}">${s.name}</a> <span class="muted">since</span> ${timeIso(s.entered_utc)}</li>`)}</ul>`
    : html`<p class="muted">In no segment.</p>`
}</section>
<section class="card" aria-labelledby="events-h"><h2 id="events-h">Recent events</h2>
${
  v.events.length
    ? html`<div class="table-wrap"><table class="stack" aria-labelledby="events-h"><thead><tr><th scope="col">Event</th><th scope="col">When</th><th scope="col">Properties</th></tr></thead><tbody>${v.events.map(
        (e) =>
          html`<tr><td data-label="Event">${e.name}</td><td data-label="When">${timeIso(e.timestamp_utc)}</td><td data-label="Properties">${
            Object.entries(e.properties)
              .map(([k, val]) => `${k}: ${valueText(val)}`)
              .join('; ') || html`<span class="muted">none</span>`
          }</td></tr>`,
      )}</tbody></table></div>`
    : html`<p class="muted">No events yet.</p>`
}</section>
<p><a class="button secondary" href="${href(ctx, VISITORS_PATH, { key: v.key, confirm: 'erase' })}">Erase visitor</a></p>`,
      VISITORS_PATH,
    ),
  )
}

/** The visitors page routes. */
export function visitorRoutes(kit: Kit) {
  const { store } = kit.deps
  return new Elysia()
    .get('/visitors', async ({ request }) => {
      const ctx = await signedIn(kit, request)
      const key = ctx.url.searchParams.get('key')
      if (key === null) return listView(ctx)
      if (ctx.url.searchParams.get('confirm') === 'erase') {
        const v = await getVisitor(store, ctx.site.id, key)
        return confirmPage(ctx, {
          title: 'Erase visitor',
          question: `Erase visitor “${v.key}”${v.email ? ` (${v.email})` : ''}?`,
          detail: `Their attributes, ${v.event_count} events and segment memberships are deleted for good (a privacy erasure).`,
          path: VISITORS_PATH,
          fields: { action: 'erase', key: v.key },
          button: 'Erase',
          danger: true,
          active: VISITORS_PATH,
        })
      }
      return profileView(ctx, key)
    })
    .post('/visitors', async ({ request, body }) => {
      const ctx = await signedIn(kit, request)
      const form = formOf(body)
      requireCsrf(ctx, form)
      if (form.get('action') !== 'erase') throw new NotFoundError('Unknown action.', 'action')
      await deleteVisitor(store, ctx.site.id, form.get('key'))
      return redirect(href(ctx, VISITORS_PATH, { notice: 'erased' }))
    })
}
