/**
 * /dashboard/inbox: chats waiting for a human, those an agent holds, those with the bot, and the
 * latest closed ones, kept live over the dashboard's WebSocket (new handoffs and messages appear
 * without a reload); open one to read the transcript with the AI summary, reply and close it.
 * Reads and writes go through the chat services the API uses (sessions, messages, transcripts).
 */
import { Elysia } from 'elysia'
import { BadRequestError, NotFoundError } from '../../errors'
import { PostMessageBody } from '../../modules/messages/model'
import { agentReply } from '../../modules/messages/service'
import type { Session } from '../../modules/sessions/model'
import { getSession, listSessions, sessionAction } from '../../modules/sessions/service'
import { getTranscript } from '../../modules/transcripts/service'
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
import { LIVE_PATH } from '../live'
import { VISITORS_PATH } from './visitors'

export const INBOX_PATH = '/dashboard/inbox'

const REASONS: Record<string, string> = {
  visitor_requested: 'asked for a human',
  low_confidence: 'the bot was not sure',
  bot_error: 'the bot failed',
  max_turns: 'too many bot replies',
}
const STATUS_WORDS: Record<string, string> = { bot: 'With the bot', waiting_human: 'Waiting for a human', human: 'With an agent', closed: 'Closed' }
const STATUS_BADGE: Record<string, string> = { bot: '', waiting_human: 'wait', human: 'good', closed: '' }
const ROLE_WORDS: Record<string, string> = { visitor: 'Visitor', ai: 'AI', agent: 'Agent', system: 'System' }
const NOTICES: Record<string, string> = { sent: 'Reply sent: the visitor sees it now.', closed: 'Chat closed: the visitor may now rate it.' }

function who(v: Session['visitor']): string {
  if (v.key === null) return 'Erased visitor'
  const anonymous = v.key.startsWith('anon:')
  return v.name ?? v.email ?? (anonymous ? 'Anonymous visitor' : v.key)
}

function sessionItem(ctx: PageContext, s: Session, current: string | null): Html {
  const reason = s.handoff_reason ? html` · ${REASONS[s.handoff_reason] ?? s.handoff_reason}` : ''
  return html`<li><a href="${href(ctx, INBOX_PATH, { session: s.id })}"${s.id === current ? html` aria-current="true"` : ''}>${who(s.visitor)}</a>
<span class="muted">${reason} · ${timeIso(s.last_activity_utc)}</span></li>`
}

async function lists(ctx: PageContext, current: string | null): Promise<Html> {
  const { chat } = ctx.kit.deps
  const section = async (status: Session['status'], title: string, limit: number, empty: string) => {
    const page = await listSessions(chat, ctx.site.id, { status, limit })
    const id = `list-${status}`
    return html`<section class="card" aria-labelledby="${id}"><h2 id="${id}">${title} <span class="badge ${STATUS_BADGE[status] ?? ''}">${page.items.length}${page.has_more ? '+' : ''}</span></h2>
${page.items.length ? html`<ul class="sessions">${page.items.map((s) => sessionItem(ctx, s, current))}</ul>` : html`<p class="muted">${empty}</p>`}</section>`
  }
  const waiting = await section('waiting_human', 'Waiting for a human', 50, 'Nobody is waiting.')
  const human = await section('human', 'With an agent', 50, 'No chats with agents.')
  const bot = await section('bot', 'With the bot', 20, 'No chats with the bot.')
  const closed = await section('closed', 'Recently closed', 10, 'None yet.')
  return html`${waiting}
${human}
${bot}
${closed}`
}

async function transcriptView(ctx: PageContext, id: string): Promise<{ html: Html; closed: boolean }> {
  const t = await getTranscript(ctx.kit.deps.chat, ctx.site.id, id, 'session')
  const visitor = t.visitor
  const items = t.messages.map(
    (m) =>
      html`<li class="${m.role}"><span class="who">${m.role === 'agent' && m.author ? `${ROLE_WORDS.agent} ${m.author}` : ROLE_WORDS[m.role]} · ${timeIso(m.created_utc)}</span>${m.text}</li>`,
  )
  return {
    closed: t.status === 'closed',
    html: html`<h2 id="chat-heading">Chat with ${who(visitor)}</h2>
<p><span class="badge ${STATUS_BADGE[t.status] ?? ''}">${STATUS_WORDS[t.status] ?? t.status}</span>
${visitor.key === null || visitor.key.startsWith('anon:') ? '' : html` · <a href="${href(ctx, VISITORS_PATH, { key: visitor.key })}">Visitor profile</a>`}
${visitor.email ? html` · ${visitor.email}` : ''} · started ${timeIso(t.started_utc)}${t.rating !== null ? html` · rated ${t.rating}/5` : ''}</p>
${
  t.summary
    ? html`<section class="card" aria-labelledby="summary-h"><h3 id="summary-h">AI summary</h3><p>${t.summary}</p>${t.handoff_reason ? html`<p class="muted">Handed off: ${REASONS[t.handoff_reason] ?? t.handoff_reason}.</p>` : ''}</section>`
    : ''
}
<ol class="transcript" aria-label="Transcript">${items}</ol>`,
  }
}

async function inboxView(ctx: PageContext, o: { error?: unknown; status?: number; draft?: string } = {}): Promise<Response> {
  const current = ctx.url.searchParams.get('session')
  const notice = NOTICES[ctx.url.searchParams.get('notice') ?? ''] ?? null
  const chat = current ? await transcriptView(ctx, current) : null
  const sessionLists = await lists(ctx, current)
  const composer =
    chat && !chat.closed
      ? html`<form method="post" action="${href(ctx, INBOX_PATH, { session: current ?? '' })}" class="card" aria-label="Reply to the visitor">
${csrfField(ctx)}<input type="hidden" name="action" value="reply"><input type="hidden" name="session" value="${current}">
<label for="reply-text">Reply</label>
<textarea id="reply-text" name="text" maxlength="4000" required>${o.draft ?? ''}</textarea>
<p class="actions"><button type="submit">Send reply</button> <a class="button secondary" href="${href(ctx, INBOX_PATH, { session: current ?? '', confirm: 'close' })}">Close chat</a></p>
</form>`
      : ''
  return htmlResponse(
    page(
      ctx,
      'Inbox',
      html`${noticeBox(notice)}${errorBox(o.error)}
<p id="live-status" role="status" class="muted">Connecting for live updates…</p>
<div class="inbox" data-live-ws="${LIVE_PATH}?site=${ctx.site.id}" data-live="connecting">
<div id="inbox-lists" class="inbox-lists" data-live-region>${sessionLists}</div>
<div class="inbox-chat">
${chat ? html`<section id="chat-transcript" class="card" aria-labelledby="chat-heading" data-live-region>${chat.html}</section>${composer}` : html`<p class="muted">Open a chat to read it and reply.</p>`}
</div>
</div>`,
      INBOX_PATH,
    ),
    o.status,
  )
}

/** An agent's name as visitors see it: the part of the admin's email before the @. */
function authorOf(ctx: PageContext): string {
  return ctx.admin.email.split('@')[0] ?? 'agent'
}

/** The inbox page routes. */
export function inboxRoutes(kit: Kit) {
  const { chat } = kit.deps
  return new Elysia()
    .get('/inbox', async ({ request }) => {
      const ctx = await signedIn(kit, request)
      const id = ctx.url.searchParams.get('session')
      if (id && ctx.url.searchParams.get('confirm') === 'close') {
        const s = await getSession(chat, ctx.site.id, id)
        return confirmPage(ctx, {
          title: 'Close chat',
          question: `Close the chat with ${who(s.visitor)}?`,
          detail: 'The visitor is told the chat ended and may rate it. Nobody can write in it afterwards.',
          path: INBOX_PATH,
          fields: { action: 'close', session: s.id },
          button: 'Close chat',
          active: INBOX_PATH,
        })
      }
      return inboxView(ctx)
    })
    .post('/inbox', async ({ request, body }) => {
      const ctx = await signedIn(kit, request)
      const form = formOf(body)
      requireCsrf(ctx, form)
      const id = form.get('session')
      if (!id) throw new BadRequestError('session is required', 'session')
      if (form.get('action') === 'reply') {
        return attempt(
          async () => {
            const input = checkInput(PostMessageBody, { session_id: id, text: form.get('text') })
            await agentReply(chat, ctx.site.id, input, authorOf(ctx))
            return redirect(href(ctx, INBOX_PATH, { session: id, notice: 'sent' }))
          },
          (err) => inboxView(ctx, { error: err, status: err.status, draft: form.get('text') }),
        )
      }
      if (form.get('action') === 'close') {
        return attempt(
          async () => {
            await sessionAction(chat, ctx.site.id, id, 'close')
            return redirect(href(ctx, INBOX_PATH, { session: id, notice: 'closed' }))
          },
          (err) => inboxView(ctx, { error: err, status: err.status }),
        )
      }
      throw new NotFoundError('Unknown action.', 'action')
    })
}
