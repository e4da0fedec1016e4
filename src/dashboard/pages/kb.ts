/** /dashboard/kb: the knowledge base the bot answers from: search, add, edit, delete (confirmed). */
import { Elysia } from 'elysia'
import { BadRequestError } from '../../errors'
import { CreateKbArticleBody, KB_LIMITS, type KbArticle, UpdateKbArticleBody } from '../../modules/kb-articles/model'
import { createKbArticle, deleteKbArticle, getKbArticle, listKbArticles, updateKbArticle } from '../../modules/kb-articles/service'
import { type Html, html, timeIso } from '../html'
import {
  attempt,
  checkInput,
  confirmPage,
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

export const KB_PATH = '/dashboard/kb'
const NOTICES: Record<string, string> = {
  created: 'Article added: the bot can answer from it now.',
  updated: 'Article saved.',
  deleted: 'Article deleted: the bot no longer answers from it.',
}

function fields(prefix: string, d: { title: string; body: string }): Html {
  return html`<label for="${prefix}-title">Title</label>
<input id="${prefix}-title" name="title" type="text" maxlength="${KB_LIMITS.titleMax}" required value="${d.title}">
<label for="${prefix}-body">Body</label>
<textarea id="${prefix}-body" name="body" maxlength="${KB_LIMITS.bodyMax}" required aria-describedby="${prefix}-body-help">${d.body}</textarea>
<p id="${prefix}-body-help" class="muted">Write plain paragraphs: the bot replies with the passage that best matches a question.</p>`
}

function excerpt(a: KbArticle): string {
  return a.body.length > 160 ? `${a.body.slice(0, 157)}…` : a.body
}

async function listView(ctx: PageContext, o: { draft?: { title: string; body: string }; error?: unknown; status?: number } = {}): Promise<Response> {
  const q = ctx.url.searchParams.get('q')?.trim() ?? ''
  const result = await listKbArticles(ctx.kit.deps.store, ctx.site.id, {
    limit: 50,
    cursor: ctx.url.searchParams.get('cursor') ?? undefined,
    q: q || undefined,
  })
  const notice = NOTICES[ctx.url.searchParams.get('notice') ?? ''] ?? null
  const rows = result.items.map(
    (a) => html`<tr>
<td data-label="Article"><strong id="kb-${a.id}-title">${a.title}</strong><br><span class="muted">${excerpt(a)}</span></td>
<td data-label="Passages">${a.passages}</td>
<td data-label="Updated">${timeIso(a.updated_utc)}</td>
<td data-label="Actions"><div class="actions">
<a class="button secondary" href="${href(ctx, KB_PATH, { edit: a.id })}" aria-describedby="kb-${a.id}-title">Edit</a>
<a class="button secondary" href="${href(ctx, KB_PATH, { confirm: 'delete', id: a.id })}" aria-describedby="kb-${a.id}-title">Delete</a>
</div></td></tr>`,
  )
  const next = result.next_cursor ? href(ctx, KB_PATH, { cursor: result.next_cursor }) : null
  return htmlResponse(
    page(
      ctx,
      'Knowledge base',
      html`${noticeBox(notice)}${errorBox(o.error)}
<form method="get" action="${KB_PATH}" class="card" role="search"><input type="hidden" name="site" value="${ctx.site.id}">
<label for="kb-q">Search articles</label><input id="kb-q" name="q" type="search" value="${q}" placeholder="shipping times">
<p><button type="submit">Search</button>${q ? html` <a class="button secondary" href="${href(ctx, KB_PATH)}">Show all</a>` : ''}</p></form>
${
  result.items.length
    ? html`<div class="table-wrap"><table class="stack" aria-label="Articles"><thead><tr><th scope="col">Article</th><th scope="col">Passages</th><th scope="col">Updated</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>${rows}</tbody></table></div>`
    : html`<p class="muted">${q ? 'No article matches.' : 'No articles yet: without them the bot hands every chat to a human.'}</p>`
}
${next ? html`<p><a class="button secondary" href="${next}">More articles</a></p>` : ''}
<section class="card" aria-labelledby="new-article"><h2 id="new-article">New article</h2>
<form method="post" action="${href(ctx, KB_PATH)}">${csrfField(ctx)}<input type="hidden" name="action" value="create">
${fields('new-article', o.draft ?? { title: '', body: '' })}
<p><button type="submit">Add article</button></p></form></section>`,
      KB_PATH,
    ),
    o.status,
  )
}

function editView(ctx: PageContext, id: number, d: { title: string; body: string }, o: { error?: unknown; status?: number } = {}): Response {
  return htmlResponse(
    page(
      ctx,
      'Edit article',
      html`${errorBox(o.error)}<form method="post" action="${href(ctx, KB_PATH)}" class="card">${csrfField(ctx)}
<input type="hidden" name="action" value="update"><input type="hidden" name="id" value="${id}">
${fields('edit-article', d)}
<p class="actions"><button type="submit">Save article</button> <a class="button secondary" href="${href(ctx, KB_PATH)}">Cancel</a></p></form>`,
      KB_PATH,
    ),
    o.status,
  )
}

/** The knowledge base page routes. */
export function kbRoutes(kit: Kit) {
  const { store, clock } = kit.deps
  return new Elysia()
    .get('/kb', async ({ request }) => {
      const ctx = await signedIn(kit, request)
      const q = ctx.url.searchParams
      if (q.has('edit')) {
        const a = await getKbArticle(store, ctx.site.id, idParam(q.get('edit')))
        return editView(ctx, a.id, a)
      }
      if (q.get('confirm') === 'delete') {
        const a = await getKbArticle(store, ctx.site.id, idParam(q.get('id')))
        return confirmPage(ctx, {
          title: 'Delete article',
          question: `Delete the article “${a.title}”?`,
          detail: 'The bot stops answering from it at once.',
          path: KB_PATH,
          fields: { action: 'delete', id: a.id },
          button: 'Delete',
          danger: true,
          active: KB_PATH,
        })
      }
      return listView(ctx)
    })
    .post('/kb', async ({ request, body }) => {
      const ctx = await signedIn(kit, request)
      const form = formOf(body)
      requireCsrf(ctx, form)
      const action = form.get('action')
      const draft = { title: form.get('title'), body: form.get('body') }
      if (action === 'create') {
        return attempt(
          async () => {
            await createKbArticle(store, clock, ctx.site.id, checkInput(CreateKbArticleBody, draft))
            return redirect(href(ctx, KB_PATH, { notice: 'created' }))
          },
          (err) => listView(ctx, { draft, error: err, status: err.status }),
        )
      }
      const id = idParam(form.get('id'))
      if (action === 'update') {
        return attempt(
          async () => {
            await updateKbArticle(store, clock, ctx.site.id, id, checkInput(UpdateKbArticleBody, draft))
            return redirect(href(ctx, KB_PATH, { notice: 'updated' }))
          },
          (err) => editView(ctx, id, draft, { error: err, status: err.status }),
        )
      }
      if (action === 'delete') {
        await deleteKbArticle(store, ctx.site.id, id)
        return redirect(href(ctx, KB_PATH, { notice: 'deleted' }))
      }
      throw new BadRequestError('action must be create, update or delete', 'action')
    })
}
