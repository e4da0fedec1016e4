/** /dashboard/starters: the conversation starters the widget offers new visitors: add, edit, reorder, enable, delete. */
import { Elysia } from 'elysia'
import { BadRequestError, NotFoundError } from '../../errors'
import { CreateStarterBody, type Starter, UpdateStarterBody } from '../../modules/conversation-starters/model'
import { createStarter, deleteStarter, getStarter, listStarters, updateStarter } from '../../modules/conversation-starters/service'
import { type Html, html, raw } from '../html'
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

export const STARTERS_PATH = '/dashboard/starters'
const NOTICES: Record<string, string> = {
  created: 'Starter added.',
  updated: 'Starter saved.',
  deleted: 'Starter deleted.',
  enabled: 'Starter enabled: new visitors see it.',
  disabled: 'Starter disabled: new visitors no longer see it.',
}

interface Draft {
  prompt: string
  position: string
  enabled: boolean
}

function fields(prefix: string, d: Draft): Html {
  return html`<label for="${prefix}-prompt">Prompt</label>
<input id="${prefix}-prompt" name="prompt" type="text" maxlength="200" required value="${d.prompt}" placeholder="How do I reset my password?">
<label for="${prefix}-position">Position</label>
<input id="${prefix}-position" name="position" type="number" min="0" value="${d.position}" aria-describedby="${prefix}-position-help">
<p id="${prefix}-position-help" class="muted">Lower comes first; leave empty to put it last.</p>
<p><label class="inline"><input type="checkbox" name="enabled" value="1"${d.enabled ? raw(' checked') : ''}> Enabled</label></p>`
}

/** The API input a starter form describes (position blank = unset). */
function inputOf(form: Form): { prompt: string; position?: number; enabled: boolean } {
  const pos = form.get('position').trim()
  if (pos !== '' && !/^\d+$/.test(pos)) throw new BadRequestError('position must be an integer from 0 to 1000000', 'position')
  return { prompt: form.get('prompt'), ...(pos === '' ? {} : { position: Number(pos) }), enabled: form.get('enabled') === '1' }
}

async function listView(ctx: PageContext, o: { draft?: Draft; error?: unknown; status?: number } = {}): Promise<Response> {
  const starters = await listStarters(ctx.kit.deps.store, ctx.site.id, true)
  const notice = NOTICES[ctx.url.searchParams.get('notice') ?? ''] ?? null
  const rows = starters.map(
    (s) => html`<tr>
<td data-label="Position">${s.position}</td>
<td data-label="Prompt" id="starter-${s.id}-prompt">${s.prompt}</td>
<td data-label="Shown">${s.enabled ? html`<span class="badge good">Enabled</span>` : html`<span class="badge">Disabled</span>`}</td>
<td data-label="Actions"><div class="actions">
<form method="post" action="${href(ctx, STARTERS_PATH)}">${csrfField(ctx)}<input type="hidden" name="action" value="toggle"><input type="hidden" name="id" value="${s.id}"><button type="submit" class="secondary" aria-describedby="starter-${s.id}-prompt">${s.enabled ? 'Disable' : 'Enable'}</button></form>
<a class="button secondary" href="${href(ctx, STARTERS_PATH, { edit: s.id })}" aria-describedby="starter-${s.id}-prompt">Edit</a>
<a class="button secondary" href="${href(ctx, STARTERS_PATH, { confirm: 'delete', id: s.id })}" aria-describedby="starter-${s.id}-prompt">Delete</a>
</div></td></tr>`,
  )
  return htmlResponse(
    page(
      ctx,
      'Conversation starters',
      html`${noticeBox(notice)}${errorBox(o.error)}
<p>The chat widget offers the enabled starters to a new visitor, in this order. The API lists them at <code>GET /v1/api.ashx?resource=conversation_starters</code>.</p>
${
  starters.length
    ? html`<div class="table-wrap"><table class="stack" aria-label="Conversation starters"><thead><tr><th scope="col">Position</th><th scope="col">Prompt</th><th scope="col">Shown</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>${rows}</tbody></table></div>`
    : html`<p class="muted">No starters yet.</p>`
}
<section class="card" aria-labelledby="new-starter"><h2 id="new-starter">New starter</h2>
<form method="post" action="${href(ctx, STARTERS_PATH)}">${csrfField(ctx)}<input type="hidden" name="action" value="create">
${fields('new-starter', o.draft ?? { prompt: '', position: '', enabled: true })}
<p><button type="submit">Add starter</button></p></form></section>`,
      STARTERS_PATH,
    ),
    o.status,
  )
}

function editView(ctx: PageContext, id: number, d: Draft, o: { error?: unknown; status?: number } = {}): Response {
  return htmlResponse(
    page(
      ctx,
      'Edit starter',
      html`${errorBox(o.error)}<form method="post" action="${href(ctx, STARTERS_PATH)}" class="card">${csrfField(ctx)}
<input type="hidden" name="action" value="update"><input type="hidden" name="id" value="${id}">
${fields('edit-starter', d)}
<p class="actions"><button type="submit">Save starter</button> <a class="button secondary" href="${href(ctx, STARTERS_PATH)}">Cancel</a></p></form>`,
      STARTERS_PATH,
    ),
    o.status,
  )
}

const draftOfStarter = (s: Starter): Draft => ({ prompt: s.prompt, position: String(s.position), enabled: s.enabled })

/** The conversation starters page routes. */
export function starterRoutes(kit: Kit) {
  const { store, clock } = kit.deps
  return new Elysia()
    .get('/starters', async ({ request }) => {
      const ctx = await signedIn(kit, request)
      const q = ctx.url.searchParams
      if (q.has('edit')) {
        const s = await getStarter(store, ctx.site.id, idParam(q.get('edit')))
        return editView(ctx, s.id, draftOfStarter(s))
      }
      if (q.get('confirm') === 'delete') {
        const s = await getStarter(store, ctx.site.id, idParam(q.get('id')))
        return confirmPage(ctx, {
          title: 'Delete starter',
          question: `Delete the starter “${s.prompt}”?`,
          path: STARTERS_PATH,
          fields: { action: 'delete', id: s.id },
          button: 'Delete',
          danger: true,
          active: STARTERS_PATH,
        })
      }
      return listView(ctx)
    })
    .post('/starters', async ({ request, body }) => {
      const ctx = await signedIn(kit, request)
      const form = formOf(body)
      requireCsrf(ctx, form)
      const action = form.get('action')
      const draft: Draft = { prompt: form.get('prompt'), position: form.get('position'), enabled: form.get('enabled') === '1' }
      if (action === 'create') {
        return attempt(
          async () => {
            await createStarter(store, clock, ctx.site.id, checkInput(CreateStarterBody, inputOf(form)))
            return redirect(href(ctx, STARTERS_PATH, { notice: 'created' }))
          },
          (err) => listView(ctx, { draft, error: err, status: err.status }),
        )
      }
      const id = idParam(form.get('id'))
      if (action === 'update') {
        return attempt(
          async () => {
            await updateStarter(store, ctx.site.id, id, checkInput(UpdateStarterBody, inputOf(form)))
            return redirect(href(ctx, STARTERS_PATH, { notice: 'updated' }))
          },
          (err) => editView(ctx, id, draft, { error: err, status: err.status }),
        )
      }
      if (action === 'toggle') {
        const s = await getStarter(store, ctx.site.id, id)
        await updateStarter(store, ctx.site.id, id, { enabled: !s.enabled })
        return redirect(href(ctx, STARTERS_PATH, { notice: s.enabled ? 'disabled' : 'enabled' }))
      }
      if (action === 'delete') {
        await deleteStarter(store, ctx.site.id, id)
        return redirect(href(ctx, STARTERS_PATH, { notice: 'deleted' }))
      }
      throw new NotFoundError('Unknown action.', 'action')
    })
}
