/**
 * The `/demo` page: the install snippet live on a page served with a strict Content-Security-
 * Policy (nonce scripts and styles, no 'unsafe-inline'), buttons for every SDK command and a
 * view of what the SDK stores, so a new user can try the widget against their own server at once.
 */

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** The CSP the demo page is served with; `nonce` is fresh per response. */
export function demoCsp(nonce: string): string {
  return [
    "default-src 'self'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

/** The snippet a site pastes into its page template, for one publishable key and server. */
export function installSnippet(siteKey: string, serverUrl: string): string {
  return `<script>
  window.mylivechat = window.mylivechat || function () {
    (window.mylivechat.q = window.mylivechat.q || []).push(arguments)
  }
  mylivechat('boot', { siteKey: '${siteKey}' })
</script>
<script src="${serverUrl}/assets/js/mlc-visitor-sdk.js" async></script>`
}

const COMMANDS: [string, string][] = [
  ['identify', 'Identify as demo_user'],
  ['track', 'Track viewed_pricing'],
  ['show', 'Show'],
  ['hide', 'Hide'],
  ['open', 'Open'],
  ['close', 'Close'],
  ['reset', 'Reset (logout)'],
]

/** The page's HTML. */
export function demoPage(opts: { siteName: string; siteId: number; siteKey: string; serverUrl: string; nonce: string }): string {
  const { nonce, siteKey } = opts
  const key = JSON.stringify(siteKey)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mlc demo: visitor SDK and chat widget</title>
<style nonce="${nonce}">
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #111827; background: #f9fafb; }
  main { max-width: 46rem; margin: 0 auto; padding: 2rem 1rem 8rem; }
  h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
  section { background: #fff; border: 1px solid #e5e7eb; border-radius: 10px; padding: 1rem 1.25rem; margin: 1rem 0; }
  .buttons { display: flex; flex-wrap: wrap; gap: .5rem; }
  button { font: inherit; padding: .45rem .8rem; border-radius: 8px; border: 1px solid #2563eb; background: #eff6ff; color: #1e3a8a; cursor: pointer; }
  button:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }
  pre { background: #111827; color: #e5e7eb; padding: .75rem; border-radius: 8px; overflow: auto; font-size: .85rem; }
  code { font-family: ui-monospace, monospace; }
</style>
<script nonce="${nonce}">
  window.mylivechat = window.mylivechat || function () {
    (window.mylivechat.q = window.mylivechat.q || []).push(arguments)
  }
  mylivechat('boot', { siteKey: ${key} })
</script>
<script nonce="${nonce}" src="/assets/js/mlc-visitor-sdk.js" async></script>
</head>
<body>
<main>
  <h1>Visitor SDK and chat widget</h1>
  <p>This page has the install snippet for site <strong>${escapeHtml(opts.siteName)}</strong> (id ${opts.siteId}),
  under a strict Content-Security-Policy. The chat launcher is at the bottom right: open it, pick a starter,
  ask for a human, and answer as the agent with <code>POST /v1/messages</code>.</p>
  <section aria-labelledby="try">
    <h2 id="try">Try the commands</h2>
    <div class="buttons">
      ${COMMANDS.map(([cmd, label]) => `<button type="button" data-command="${cmd}">${label}</button>`).join('\n      ')}
    </div>
  </section>
  <section aria-labelledby="state-h">
    <h2 id="state-h">What the SDK holds</h2>
    <p><code>mylivechat('state')</code>: identity, attributes, the last events (<code>mlc:events</code>) and the outbox.</p>
    <pre id="state" aria-live="polite"></pre>
  </section>
  <section aria-labelledby="snippet-h">
    <h2 id="snippet-h">Install it on your site</h2>
    <p>Paste this into your page template; details in docs/sdk.md.</p>
    <pre><code>${escapeHtml(installSnippet(siteKey, opts.serverUrl))}</code></pre>
  </section>
</main>
<script nonce="${nonce}">
  const args = {
    identify: [{ user_id: 'demo_user', email: 'demo@example.com', name: 'Demo User', plan: 'growth' }],
    track: ['viewed_pricing', { tier: 'growth' }],
  }
  const out = document.getElementById('state')
  const refresh = () => { out.textContent = JSON.stringify(mylivechat('state') ?? 'loading...', null, 2) }
  for (const b of document.querySelectorAll('[data-command]')) {
    b.addEventListener('click', () => { mylivechat(b.dataset.command, ...(args[b.dataset.command] || [])); refresh() })
  }
  setInterval(refresh, 1000)
  refresh()
</script>
</body>
</html>
`
}
