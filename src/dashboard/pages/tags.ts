/** /dashboard/tags: the site's conversation tags: list, create, rename or recolor, delete (confirmed). */
import { Elysia } from 'elysia'
import { ApiError, BadRequestError } from '../../errors'
import { CreateTagBody, type Tag, UpdateTagBody } from '../../modules/tags/model'
import { createTag, deleteTag, getTag, listTags, updateTag } from '../../modules/tags/service'
import { type Html, html } from '../html'
import {
  checkInput,
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
} from '../kit'
import { idParam } from './tokens'

export const TAGS_PATH = '/dashboard/tags'
const NOTICES: Record<string, string> = { created: 'Tag created.', updated: 'Tag saved.', deleted: 'Tag deleted.' }

function swatch(color: string): Html {
  return html`<svg class="swatch" width="16" height="16" aria-hidden="true"><rect width="16" height="16" rx="4" fill="${color}"/></svg>`
}

function tagFields(prefix: string, tag: { name?: string; color?: string }): Html {
  return html`<label for="${prefix}-name">Name</label>
<input id="${prefix}-name" name="name" type="text" maxlength="64" required value="${tag.name ?? ''}">
<label for="${prefix}-color">Color</label>
<input id="${prefix}-color" name="color" type="color" value="${tag.color ?? '#2563eb'}">`
}

async function tagsView(ctx: PageContext, o: { error?: unknown; draft?: { name: string; color: string }; status?: number } = {}): Promise<Response> {
  const tags = await listTags(ctx.kit.deps.store, ctx.site.id)
  const notice = NOTICES[ctx.url.searchParams.get('notice') ?? ''] ?? null
  const rows = tags.map(
    (t) => html`<tr>
<td data-label="Tag" id="tag-${t.id}-name">${swatch(t.color)} ${t.name}</td>
<td data-label="Color"><code>${t.color}</code></td>
<td data-label="Id">${t.id}</td>
<td data-label="Actions"><div class="actions">
<a class="button secondary" href="${href(ctx, TAGS_PATH, { edit: t.id })}" aria-describedby="tag-${t.id}-name">Edit</a>
<a class="button secondary" href="${href(ctx, TAGS_PATH, { confirm: 'delete', id: t.id })}" aria-describedby="tag-${t.id}-name">Delete</a>
</div></td></tr>`,
  )
  return htmlResponse(
    page(
      ctx,
      'Tags',
      html`${noticeBox(notice)}${errorBox(o.error)}
<p>Tags label conversations. The API lists them at <code>GET /v1/api.ashx?resource=tags</code>.</p>
<section class="card" aria-labelledby="new-tag"><h2 id="new-tag">New tag</h2>
<form method="post" action="${href(ctx, TAGS_PATH)}">${csrfField(ctx)}<input type="hidden" name="action" value="create">
${tagFields('new-tag', o.draft ?? {})}
<p><button type="submit">Create tag</button></p></form></section>
${
  tags.length
    ? html`<div class="table-wrap"><table class="stack" aria-label="Tags"><thead><tr><th scope="col">Tag</th><th scope="col">Color</th><th scope="col">Id</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>${rows}</tbody></table></div>`
    : html`<p class="muted">No tags yet.</p>`
}`,
      TAGS_PATH,
    ),
    o.status,
  )
}

function editView(ctx: PageContext, tag: Tag, error?: unknown, status?: number) {
  return htmlResponse(
    page(
      ctx,
      `Edit tag “${tag.name}”`,
      html`${errorBox(error)}<form method="post" action="${href(ctx, TAGS_PATH)}" class="card">${csrfField(ctx)}
<input type="hidden" name="action" value="update"><input type="hidden" name="id" value="${tag.id}">
${tagFields('edit-tag', tag)}
<p class="actions"><button type="submit">Save tag</button> <a class="button secondary" href="${href(ctx, TAGS_PATH)}">Cancel</a></p></form>`,
      TAGS_PATH,
    ),
    status,
  )
}

/** The tags page routes. */
export function tagRoutes(kit: Kit) {
  const { store, clock } = kit.deps
  return new Elysia()
    .get('/tags', async ({ request }) => {
      const ctx = await signedIn(kit, request)
      const q = ctx.url.searchParams
      if (q.has('edit')) return editView(ctx, await getTag(store, ctx.site.id, idParam(q.get('edit'))))
      if (q.get('confirm') === 'delete') {
        const tag = await getTag(store, ctx.site.id, idParam(q.get('id')))
        return htmlResponse(
          page(
            ctx,
            'Delete tag',
            html`<section class="card" role="alertdialog" aria-labelledby="confirm-q"><p id="confirm-q"><strong>Delete tag “${tag.name}”?</strong> Conversations lose this label.</p>
<form method="post" action="${href(ctx, TAGS_PATH)}" class="actions">${csrfField(ctx)}<input type="hidden" name="action" value="delete"><input type="hidden" name="id" value="${tag.id}">
<button type="submit" class="danger">Delete</button> <a class="button secondary" href="${href(ctx, TAGS_PATH)}" autofocus>Cancel</a></form></section>`,
            TAGS_PATH,
          ),
        )
      }
      return tagsView(ctx)
    })
    .post('/tags', async ({ request, body }) => {
      const ctx = await signedIn(kit, request)
      const form = formOf(body)
      requireCsrf(ctx, form)
      const action = form.get('action')
      const input = { name: form.get('name'), color: form.get('color') || undefined }
      try {
        if (action === 'create') {
          await createTag(store, clock, ctx.site.id, checkInput(CreateTagBody, input))
          return redirect(href(ctx, TAGS_PATH, { notice: 'created' }))
        }
        if (action === 'update') {
          const id = idParam(form.get('id'))
          try {
            await updateTag(store, ctx.site.id, id, checkInput(UpdateTagBody, input))
          } catch (err) {
            if (err instanceof ApiError && err.status !== 404) return editView(ctx, { id, name: input.name, color: input.color ?? '' }, err, err.status)
            throw err
          }
          return redirect(href(ctx, TAGS_PATH, { notice: 'updated' }))
        }
        if (action === 'delete') {
          await deleteTag(store, ctx.site.id, idParam(form.get('id')))
          return redirect(href(ctx, TAGS_PATH, { notice: 'deleted' }))
        }
        throw new BadRequestError('action must be create, update or delete', 'action')
      } catch (err) {
        if (!(err instanceof ApiError) || err.status === 404) throw err
        return tagsView(ctx, { error: err, draft: { name: input.name, color: input.color ?? '#2563eb' }, status: err.status })
      }
    })
}
