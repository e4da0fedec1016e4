/**
 * /dashboard/settings: the site's plan and rate limit (owners change them), its publishable key
 * with the install snippet, identity verification (require it, rotate the secret, shown once), and
 * the chat bot's hand-off settings. Calls the sites, site-settings and chat-settings services, the
 * ones the CLI and API use.
 */
import { Elysia } from 'elysia'
import { chatSettings, updateChatSettings } from '../../chat/settings'
import { ForbiddenError, NotFoundError } from '../../errors'
import { installSnippet } from '../../modules/assets/demo-page'
import { DEFAULT_CHAT_SETTINGS, UpdateChatSettingsBody } from '../../modules/chat-settings/model'
import { getSiteSettings, rotateIdentitySecret, updateSiteSettings } from '../../modules/site-settings/service'
import { PLAN_NAMES, PLANS, siteRateLimit } from '../../modules/sites/plans'
import { updateSite } from '../../modules/sites/service'
import { type Html, html, raw, time } from '../html'
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
import { apiOrigin } from './tokens'

export const SETTINGS_PATH = '/dashboard/settings'
const NOTICES: Record<string, string> = {
  plan: 'Plan saved: the new rate limit applies within a second.',
  identity_on: 'Identity verification is now required.',
  identity_off: 'Identity verification is off: publishable-key callers may identify any visitor key.',
  chat: 'Chat bot settings saved: they apply from the next visitor message.',
}

/** A number as people type it: digits, an optional sign and decimal point. */
const PLAIN_DECIMAL = /^-?(\d+\.?\d*|\.\d+)$/

/** The chat bot form's values as typed (re-shown when refused). */
interface ChatDraft {
  max_bot_replies: string
  min_confidence: string
}

/**
 * The API input the chat bot form describes, always as numbers (a plain decimal as typed; blank,
 * text, "0x10" or "1e1" is NaN), so the API's schema range-checks every value and refuses a bad
 * one with its own message naming the field. A string would skip that check: the schema's string
 * branch is range-checked only when the API decodes it.
 */
function chatInputOf(form: Form): { max_bot_replies: number; min_confidence: number } {
  const value = (name: string) => {
    const typed = form.get(name).trim()
    return PLAIN_DECIMAL.test(typed) ? Number(typed) : Number.NaN
  }
  return { max_bot_replies: value('max_bot_replies'), min_confidence: value('min_confidence') }
}

async function chatSection(ctx: PageContext, draft?: ChatDraft): Promise<Html> {
  const current = await chatSettings(ctx.kit.deps.store, ctx.site.id)
  const d = draft ?? { max_bot_replies: String(current.max_bot_replies), min_confidence: String(current.min_confidence) }
  const isDefault = (k: keyof typeof DEFAULT_CHAT_SETTINGS) => (current[k] === DEFAULT_CHAT_SETTINGS[k] ? ' (default)' : '')
  return html`<section class="card" aria-labelledby="chat-h"><h2 id="chat-h">Chat bot</h2>
<p>When the bot stops answering a chat and hands it to a human. The API reads and changes these at <code>/v1/chat_settings</code>.</p>
<p>Now: a human takes over after <strong id="chat-max-bot-replies-now">${current.max_bot_replies}</strong> bot replies${isDefault('max_bot_replies')}, or when the knowledge-base bot's confidence is below <strong id="chat-min-confidence-now">${current.min_confidence}</strong>${isDefault('min_confidence')}.</p>
<form method="post" action="${href(ctx, SETTINGS_PATH)}">${csrfField(ctx)}<input type="hidden" name="action" value="chat">
<label for="chat-max-bot-replies">Max bot replies</label>
<input id="chat-max-bot-replies" name="max_bot_replies" type="number" min="1" max="100" step="1" required value="${d.max_bot_replies}" aria-describedby="chat-max-bot-replies-help">
<p id="chat-max-bot-replies-help" class="muted">After this many bot answers in a chat, the visitor's next message goes to a human (1 to 100; default ${DEFAULT_CHAT_SETTINGS.max_bot_replies}).</p>
<label for="chat-min-confidence">Minimum confidence</label>
<input id="chat-min-confidence" name="min_confidence" type="number" min="0" max="1" step="any" required value="${d.min_confidence}" aria-describedby="chat-min-confidence-help">
<p id="chat-min-confidence-help" class="muted">The knowledge-base bot hands off to a human when its best passage covers less than this share of the question (0 to 1; default ${DEFAULT_CHAT_SETTINGS.min_confidence}).</p>
<p><button type="submit">Save chat bot settings</button></p></form></section>`
}

function secretPanel(secret: string, heading: string): Html {
  return html`<section class="card" aria-labelledby="secret-heading">
<h2 id="secret-heading" tabindex="-1" autofocus>${heading}</h2>
<p>Copy it now into your backend's configuration: it is shown only this once. Sign identity tokens with it (HS256, <code>sub</code> = the visitor key, <code>exp</code> required).</p>
<code id="identity-secret" class="secret">${secret}</code>
<p class="actions"><button type="button" data-copy="identity-secret">Copy</button> <span id="identity-secret-status" role="status" class="muted"></span></p>
</section>`
}

async function settingsView(
  ctx: PageContext,
  o: { secret?: { value: string; heading: string }; chat?: ChatDraft; error?: unknown; status?: number } = {},
): Promise<Response> {
  const { store } = ctx.kit.deps
  const site = (await store.sites.byId(ctx.site.id)) ?? ctx.site
  const settings = await getSiteSettings(store, site.id)
  const owner = ctx.admin.all_sites === 1
  const notice = NOTICES[ctx.url.searchParams.get('notice') ?? ''] ?? null
  const snippet = installSnippet(settings.publishable_key, apiOrigin(ctx))
  const chat = await chatSection(ctx, o.chat)
  const planForm = owner
    ? html`<form method="post" action="${href(ctx, SETTINGS_PATH)}">${csrfField(ctx)}<input type="hidden" name="action" value="plan">
<label for="site-name">Site name</label><input id="site-name" name="name" type="text" maxlength="100" required value="${site.name}">
<label for="site-plan">Plan</label>
<select id="site-plan" name="plan">${PLAN_NAMES.map((p) => html`<option value="${p}"${p === site.plan ? raw(' selected') : ''}>${p} (${PLANS[p]} requests/min per token)</option>`)}</select>
<p><button type="submit">Save plan</button></p></form>`
    : html`<p class="muted">Only the install's owner changes plans (<code>mlc site update</code>).</p>`
  return htmlResponse(
    page(
      ctx,
      'Site settings',
      html`${noticeBox(notice)}${errorBox(o.error)}${o.secret ? secretPanel(o.secret.value, o.secret.heading) : ''}
<section class="card" aria-labelledby="plan-h"><h2 id="plan-h">Plan</h2>
<p>${site.name} (site #${site.id}) is on the <strong>${site.plan}</strong> plan: <strong>${siteRateLimit(site)}</strong> requests per minute per token${site.rate_limit !== null ? ' (custom limit)' : ''}. Created ${time(site.created_ms)}.</p>
${planForm}</section>
<section class="card" aria-labelledby="pk-h"><h2 id="pk-h">Publishable key</h2>
<p>Safe to put in your pages: it can only identify visitors, track events and open chats (no reads).</p>
<code id="publishable-key" class="secret">${settings.publishable_key}</code>
<p class="actions"><button type="button" data-copy="publishable-key">Copy</button> <span id="publishable-key-status" role="status" class="muted"></span></p>
<p>Install the visitor SDK and chat widget once in your page template:</p>
<pre id="install-snippet">${snippet}</pre>
<p class="actions"><button type="button" class="secondary" data-copy="install-snippet">Copy snippet</button> <span id="install-snippet-status" role="status" class="muted"></span></p>
</section>
<section class="card" aria-labelledby="identity-h"><h2 id="identity-h">Identity verification</h2>
<p>When required, a page identifying a visitor by key must send an identity token your backend signs, so nobody can claim to be someone else.</p>
<p>Status: ${settings.identity_required ? html`<span class="badge good">Required</span>` : html`<span class="badge">Not required</span>`} · Secret: ${settings.identity_secret_set ? 'set' : 'none yet'}</p>
<form method="post" action="${href(ctx, SETTINGS_PATH)}">${csrfField(ctx)}<input type="hidden" name="action" value="identity">
<p><label class="inline"><input type="checkbox" name="identity_required" value="1"${settings.identity_required ? raw(' checked') : ''}> Require identity verification</label></p>
<p><button type="submit">Save verification setting</button></p></form>
<p><a class="button secondary" href="${href(ctx, SETTINGS_PATH, { confirm: 'rotate' })}">Rotate identity secret</a></p>
</section>
${chat}`,
      SETTINGS_PATH,
    ),
    o.status,
  )
}

/** The site settings page routes. */
export function settingsRoutes(kit: Kit) {
  const { store, clock } = kit.deps
  return new Elysia()
    .get('/settings', async ({ request }) => {
      const ctx = await signedIn(kit, request)
      if (ctx.url.searchParams.get('confirm') === 'rotate') {
        return confirmPage(ctx, {
          title: 'Rotate identity secret',
          question: 'Rotate the identity secret?',
          detail: 'A new secret is made and shown once. Identity tokens signed with the current one stop verifying at once.',
          path: SETTINGS_PATH,
          fields: { action: 'rotate' },
          button: 'Rotate',
          active: SETTINGS_PATH,
        })
      }
      return settingsView(ctx)
    })
    .post('/settings', async ({ request, body }) => {
      const ctx = await signedIn(kit, request)
      const form = formOf(body)
      requireCsrf(ctx, form)
      const action = form.get('action')
      const again = (err: { status: number }) => settingsView(ctx, { error: err, status: err.status })
      if (action === 'plan') {
        if (ctx.admin.all_sites !== 1) throw new ForbiddenError('Only the install owner can change the plan.')
        return attempt(async () => {
          await updateSite(store, ctx.site.id, { name: form.get('name').trim() || undefined, plan: form.get('plan') })
          return redirect(href(ctx, SETTINGS_PATH, { notice: 'plan' }))
        }, again)
      }
      if (action === 'identity') {
        const required = form.get('identity_required') === '1'
        const out = await updateSiteSettings(store, ctx.site.id, { identity_required: required })
        if (out.identity_secret)
          return settingsView(ctx, { secret: { value: out.identity_secret, heading: 'Verification required: your new identity secret' } })
        return redirect(href(ctx, SETTINGS_PATH, { notice: required ? 'identity_on' : 'identity_off' }))
      }
      if (action === 'chat') {
        return attempt(
          async () => {
            await updateChatSettings(store, clock, ctx.site.id, checkInput(UpdateChatSettingsBody, chatInputOf(form)))
            return redirect(href(ctx, SETTINGS_PATH, { notice: 'chat' }))
          },
          (err) =>
            settingsView(ctx, {
              chat: { max_bot_replies: form.get('max_bot_replies'), min_confidence: form.get('min_confidence') },
              error: err,
              status: err.status,
            }),
        )
      }
      if (action === 'rotate') {
        const out = await rotateIdentitySecret(store, ctx.site.id)
        return settingsView(ctx, { secret: { value: out.identity_secret, heading: 'Your new identity secret' } })
      }
      throw new NotFoundError('Unknown action.', 'action')
    })
}
