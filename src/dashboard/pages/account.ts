/**
 * Sign-in, sign-out and the first-run setup page. Failed sign-ins are limited per account and per
 * client IP with the app's token buckets; the forms carry a CSRF token bound to a pre-session cookie.
 */
import { Elysia } from 'elysia'
import { ApiError, RateLimitedError, UnauthorizedError } from '../../errors'
import { randomSecret } from '../../random'
import type { TakeResult } from '../../ratelimit/token-bucket'
import { createFirstAdmin, setupLinkUsable, verifyCredentials } from '../accounts'
import { type Html, html } from '../html'
import {
  CsrfError,
  cookie,
  cookiesOf,
  DASHBOARD,
  errorBox,
  formOf,
  htmlResponse,
  type Kit,
  noticeBox,
  PRE_SESSION_COOKIE,
  publicPage,
  redirect,
  SESSION_COOKIE,
  signedIn,
  TOKENS_PATH,
} from '../kit'
import { DashboardSessions } from '../sessions'

const PRE_SESSION_MAX_AGE_S = 3600

/** A safe place to go after signing in: a dashboard path or the /demo page, never another host. */
function safeNext(next: string | null): string {
  return next && /^\/(dashboard|demo)(\/|\?|$)/.test(next) && !next.startsWith('//') && !next.includes('\\') ? next : TOKENS_PATH
}

/** The pre-session nonce of a request, and the Set-Cookie header when a new one had to be made. */
function preSession(kit: Kit, request: Request): { nonce: string; setCookie: string | null } {
  const existing = cookiesOf(request).get(PRE_SESSION_COOKIE)
  if (existing && /^[\w-]{16,64}$/.test(existing)) return { nonce: existing, setCookie: null }
  const nonce = randomSecret('', 18)
  return { nonce, setCookie: cookie(kit, request, PRE_SESSION_COOKIE, nonce, PRE_SESSION_MAX_AGE_S, DASHBOARD) }
}

async function checkPreCsrf(kit: Kit, request: Request, given: string): Promise<void> {
  const nonce = cookiesOf(request).get(PRE_SESSION_COOKIE)
  if (!nonce || !DashboardSessions.sameToken(await kit.sessions.preCsrfFor(nonce), given)) throw new CsrfError()
}

async function signInForm(kit: Kit, o: { csrf: string; email?: string; next?: string; error?: unknown; notice?: string | null }): Promise<Html> {
  const noAdmins = (await kit.deps.store.admins.count()) === 0
  return publicPage(
    'Sign in',
    html`<h1>Sign in</h1>
${noticeBox(o.notice)}${errorBox(o.error)}
${noAdmins ? html`<p class="alert ok" role="note">No admin exists yet. Open the one-time setup link printed in the server log, or run <code>mlc admin create --email you@example.com --password ...</code>.</p>` : ''}
<form method="post" action="${DASHBOARD}/sign-in" class="card">
<input type="hidden" name="csrf" value="${o.csrf}">
<input type="hidden" name="next" value="${o.next ?? ''}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${o.email ?? ''}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p>
</form>`,
  )
}

function setupForm(o: { csrf: string; token: string; email?: string; error?: unknown }): Html {
  return publicPage(
    'Create the first admin',
    html`<h1>Create the first admin</h1>
<p>This one-time link creates the account that owns this install (it sees every site). It works once and expires an hour after the server printed it.</p>
${errorBox(o.error)}
<form method="post" action="${DASHBOARD}/setup" class="card">
<input type="hidden" name="csrf" value="${o.csrf}">
<input type="hidden" name="token" value="${o.token}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${o.email ?? ''}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required aria-describedby="password-help">
<p id="password-help" class="muted">At least 8 characters.</p>
<p><button type="submit">Create admin</button></p>
</form>`,
  )
}

/** Sets the session cookie and sends the admin on. */
async function startSession(kit: Kit, request: Request, admin: Parameters<DashboardSessions['start']>[0], next: string): Promise<Response> {
  const { jwt } = await kit.sessions.start(admin, { ip: kit.ip(request), userAgent: request.headers.get('user-agent') ?? '' })
  const res = redirect(safeNext(next))
  res.headers.append('set-cookie', cookie(kit, request, SESSION_COOKIE, jwt, Math.floor(kit.sessions.ttlMs / 1000)))
  res.headers.append('set-cookie', cookie(kit, request, PRE_SESSION_COOKIE, '', 0, DASHBOARD))
  return res
}

/**
 * Counts a sign-in attempt as failed in the account's and the address's buckets before the
 * password is checked: the check is async (argon2), so a limit read first and counted after would
 * let any number of parallel guesses through. A right password calls `refund`. Past either
 * limit, the 429 to answer (and nothing is taken). With Redis, both limits fail closed: while
 * Redis cannot answer, sign-in answers 503 (per-instance buckets would multiply the guesses a
 * password gets by the number of instances; sessions already signed in are not affected).
 */
async function takeSignInAttempt(kit: Kit, email: string, ip: string): Promise<{ refund(): void } | ApiError> {
  const { buckets, config } = kit.deps
  const accountKey = `signin:account:${email}`
  const ipKey = `signin:ip:${ip}`
  let byAccount: TakeResult
  let byIp: TakeResult
  try {
    byAccount = await buckets.take(accountKey, config.signInFailuresPerAccount, 'closed')
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  try {
    byIp = byAccount.allowed ? await buckets.take(ipKey, config.signInFailuresPerIp, 'closed') : await buckets.peek(ipKey, config.signInFailuresPerIp, 'closed')
  } catch (err) {
    if (!(err instanceof ApiError)) throw err
    if (byAccount.allowed) void buckets.refund(accountKey, config.signInFailuresPerAccount)
    return err
  }
  if (byAccount.allowed && byIp.allowed) {
    return {
      refund() {
        void buckets.refund(accountKey, config.signInFailuresPerAccount)
        void buckets.refund(ipKey, config.signInFailuresPerIp)
      },
    }
  }
  if (byAccount.allowed) void buckets.refund(accountKey, config.signInFailuresPerAccount)
  const wait = Math.max(byAccount.retryAfterSeconds, byIp.retryAfterSeconds)
  return new RateLimitedError(`Too many failed sign-ins for this account or from this address. Try again in ${wait} seconds.`, wait)
}

/** Sign-in, sign-out, setup, and the dashboard root. */
export function accountRoutes(kit: Kit) {
  const { store } = kit.deps
  const refuse = (status: number, body: Html, setCookie: string | null, extra: Record<string, string> = {}) => {
    const res = htmlResponse(body, status, extra)
    if (setCookie) res.headers.append('set-cookie', setCookie)
    return res
  }

  return new Elysia()
    .get('/', () => redirect(TOKENS_PATH))
    .get('', () => redirect(TOKENS_PATH))
    .get('/sign-in', async ({ request }) => {
      const url = new URL(request.url)
      if (await kit.sessions.read(cookiesOf(request).get(SESSION_COOKIE))) return redirect(safeNext(url.searchParams.get('next')))
      const { nonce, setCookie } = preSession(kit, request)
      const notice = url.searchParams.has('signed_out') ? 'You are signed out.' : url.searchParams.has('expired') ? 'Your session ended. Sign in again.' : null
      const body = await signInForm(kit, { csrf: await kit.sessions.preCsrfFor(nonce), next: url.searchParams.get('next') ?? '', notice })
      return refuse(200, body, setCookie)
    })
    .post('/sign-in', async ({ request, body }) => {
      const form = formOf(body)
      const email = form.get('email').trim().toLowerCase()
      const ip = kit.ip(request)
      const { nonce, setCookie } = preSession(kit, request)
      const again = async (status: number, error: unknown, extra: Record<string, string> = {}) =>
        refuse(
          status,
          await signInForm(kit, { csrf: await kit.sessions.preCsrfFor(nonce), email: form.get('email'), next: form.get('next'), error }),
          setCookie,
          extra,
        )
      try {
        await checkPreCsrf(kit, request, form.get('csrf'))
      } catch (err) {
        return again(403, err)
      }
      const attempt = await takeSignInAttempt(kit, email, ip)
      if (attempt instanceof ApiError) return again(attempt.status, attempt, attempt.headers)
      const admin = await verifyCredentials(store, form.get('email'), form.get('password'))
      if (!admin) return again(401, new UnauthorizedError('The email or password is wrong.'))
      attempt.refund()
      return startSession(kit, request, admin, form.get('next'))
    })
    .post('/sign-out', async ({ request, body }) => {
      const ctx = await signedIn(kit, request)
      const form = formOf(body)
      if (!DashboardSessions.sameToken(ctx.csrf, form.get('csrf'))) throw new CsrfError()
      await kit.sessions.end(ctx.session.id)
      kit.live.endSession(ctx.session.id)
      return redirect(`${DASHBOARD}/sign-in?signed_out=1`, { 'set-cookie': cookie(kit, request, SESSION_COOKIE, '', 0) })
    })
    .get('/setup', async ({ request }) => {
      const token = new URL(request.url).searchParams.get('token') ?? ''
      if (!(await setupLinkUsable(store, kit.deps.clock, token))) {
        return htmlResponse(
          publicPage(
            'Setup link not valid',
            html`<h1>This setup link is not valid</h1><div class="alert error" role="alert">It was used already, it expired (links last one hour), or an admin exists. <a href="${DASHBOARD}/sign-in">Sign in</a>, restart the server for a fresh link, or run <code>mlc admin create</code>.</div>`,
          ),
          404,
        )
      }
      const { nonce, setCookie } = preSession(kit, request)
      return refuse(200, setupForm({ csrf: await kit.sessions.preCsrfFor(nonce), token }), setCookie)
    })
    .post('/setup', async ({ request, body }) => {
      const form = formOf(body)
      const { nonce, setCookie } = preSession(kit, request)
      try {
        await checkPreCsrf(kit, request, form.get('csrf'))
        const admin = await createFirstAdmin(store, kit.deps.clock, form.get('token'), { email: form.get('email'), password: form.get('password') })
        return startSession(kit, request, admin, TOKENS_PATH)
      } catch (err) {
        if (!(err instanceof ApiError)) throw err
        return refuse(
          err.status,
          setupForm({ csrf: await kit.sessions.preCsrfFor(nonce), token: form.get('token'), email: form.get('email'), error: err }),
          setCookie,
        )
      }
    })
}
