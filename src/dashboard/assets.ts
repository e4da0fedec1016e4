/**
 * The dashboard's one stylesheet and one script, kept as strings so the compiled binary carries
 * them. Served from /dashboard/assets/ with a content-hash ETag; the CSP forbids inline code.
 */
import { sha256Hex } from '../random'

const CSS = `
:root { --fg:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --card:#fff; --accent:#2563eb; --accent-fg:#fff; --danger:#b91c1c; --ok:#15803d; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--accent); }
:focus-visible { outline:3px solid #f59e0b; outline-offset:2px; }
.skip { position:absolute; left:-9999px; top:0; background:#fff; padding:.5rem 1rem; }
.skip:focus { left:0; z-index:10; }
header.top { display:flex; flex-wrap:wrap; align-items:center; gap:.5rem 1rem; padding:.6rem 1rem; background:var(--card); border-bottom:1px solid var(--line); }
.brand { font-weight:700; font-size:1.15rem; text-decoration:none; color:var(--fg); }
header nav { flex-basis:100%; overflow-x:auto; }
header nav ul { display:flex; gap:.25rem; margin:0; padding:0; list-style:none; white-space:nowrap; }
header nav a { display:block; padding:.35rem .6rem; border-radius:6px; text-decoration:none; }
header nav a[aria-current="page"] { background:var(--accent); color:var(--accent-fg); }
.site-switch { display:flex; gap:.4rem; align-items:center; }
.sign-out { margin-left:auto; display:flex; gap:.5rem; align-items:center; }
main { padding:1rem; max-width:72rem; margin:0 auto; }
main:focus { outline:none; }
.narrow { max-width:26rem; margin:2rem auto; }
h1 { font-size:1.5rem; margin:.5rem 0 1rem; }
h2 { font-size:1.15rem; margin:1.5rem 0 .5rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:1rem; margin:1rem 0; }
label { display:block; font-weight:600; margin:.6rem 0 .2rem; }
fieldset { border:1px solid var(--line); border-radius:8px; margin:.6rem 0; padding:.4rem .8rem; }
legend { font-weight:600; }
label.inline { display:inline-flex; gap:.35rem; align-items:center; font-weight:400; }
fieldset.choices label { display:inline-flex; gap:.35rem; align-items:center; font-weight:400; margin-right:1rem; }
input[type=text], input[type=email], input[type=password], input[type=url], input[type=search], input[type=number], select, textarea {
  width:100%; max-width:32rem; padding:.5rem .6rem; font:inherit; border:1px solid #94a3b8; border-radius:6px; background:#fff; }
textarea { min-height:7rem; max-width:100%; }
input[type=color] { width:3rem; height:2.4rem; padding:0; border:1px solid #94a3b8; border-radius:6px; }
button, .button { display:inline-block; font:inherit; padding:.45rem .9rem; border-radius:6px; border:1px solid var(--accent); background:var(--accent); color:var(--accent-fg); cursor:pointer; text-decoration:none; min-height:2.5rem; }
button.secondary, .button.secondary { background:#fff; color:var(--accent); }
button.danger { background:var(--danger); border-color:var(--danger); }
.condition [data-kind-group] { border-left:3px solid var(--line); padding-left:.6rem; margin:.4rem 0; }
.actions { display:flex; flex-wrap:wrap; gap:.4rem; align-items:center; }
.actions form { margin:0; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; width:100%; background:var(--card); }
th, td { text-align:left; padding:.5rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:.85rem; color:var(--muted); font-weight:600; }
.muted { color:var(--muted); }
code, pre, .mono { font-family:ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:.9em; }
pre { background:#0f172a; color:#e2e8f0; padding:.75rem; border-radius:8px; overflow-x:auto; white-space:pre-wrap; word-break:break-all; }
.secret { display:block; padding:.6rem; background:#fefce8; border:1px solid #facc15; border-radius:6px; word-break:break-all; }
.alert { padding:.7rem 1rem; border-radius:8px; margin:1rem 0; }
.alert.error { background:#fef2f2; border:1px solid #fca5a5; color:#7f1d1d; }
.alert.ok { background:#f0fdf4; border:1px solid #86efac; color:#14532d; }
.badge { display:inline-block; padding:.05rem .5rem; border-radius:999px; font-size:.8rem; border:1px solid var(--line); background:#f1f5f9; }
.badge.good { background:#dcfce7; border-color:#86efac; }
.badge.bad { background:#fee2e2; border-color:#fca5a5; }
.badge.wait { background:#fef9c3; border-color:#fde047; }
.chart .bar { fill:var(--accent); }
.chart .bar.zero { fill:#cbd5e1; }
.swatch { vertical-align:middle; }
.transcript { list-style:none; padding:0; margin:0; }
.transcript li { margin:.4rem 0; padding:.5rem .7rem; border-radius:8px; background:#f1f5f9; max-width:40rem; }
.transcript li.visitor { background:#e0f2fe; }
.transcript li.agent { background:#dcfce7; margin-left:auto; }
.transcript li.ai { background:#f3e8ff; }
.transcript .who { font-size:.8rem; color:var(--muted); display:block; }
.inbox { display:grid; grid-template-columns:minmax(14rem, 22rem) 1fr; gap:1rem; align-items:start; }
.inbox .card { margin:0 0 1rem; }
.sessions { list-style:none; padding:0; margin:0; }
.sessions li { padding:.35rem 0; border-bottom:1px solid var(--line); }
.sessions a[aria-current] { font-weight:700; }
.transcript li { white-space:pre-wrap; }
.visually-hidden { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
@media (max-width: 40rem) {
  .inbox { grid-template-columns:1fr; }
  main { padding:.6rem; }
  .sign-out .who { display:none; }
  table.stack thead { display:none; }
  table.stack, table.stack tbody, table.stack tr, table.stack td { display:block; width:100%; }
  table.stack tr { border:1px solid var(--line); border-radius:8px; margin:.6rem 0; }
  table.stack td { border:0; padding:.25rem .6rem; }
  table.stack td[data-label]::before { content:attr(data-label) ": "; font-weight:600; color:var(--muted); }
}
`

const JS = `
(function () {
  'use strict';
  // Site switcher: changing the select submits (the Switch button stays for keyboard and no-JS use).
  document.addEventListener('change', function (e) {
    var t = e.target;
    if (t && t.matches && t.matches('select[data-autosubmit]')) t.form.submit();
  });
  // Copy buttons: data-copy names the element whose text is copied.
  document.addEventListener('click', function (e) {
    var b = e.target && e.target.closest ? e.target.closest('button[data-copy]') : null;
    if (!b) return;
    var src = document.getElementById(b.getAttribute('data-copy'));
    if (!src) return;
    var text = 'value' in src && src.value !== undefined ? src.value : src.textContent;
    var status = document.getElementById(b.getAttribute('data-copy') + '-status');
    var done = function (ok) { if (status) status.textContent = ok ? 'Copied.' : 'Copy failed: select the text and copy it.'; };
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
    else done(false);
  });
  // Segment conditions: show only the fields of the chosen type (both stay usable without JS).
  var syncKind = function (select) {
    var box = select.closest('fieldset');
    if (!box) return;
    box.querySelectorAll('[data-kind-group]').forEach(function (g) { g.hidden = g.getAttribute('data-kind-group') !== select.value; });
  };
  document.querySelectorAll('select[data-kind]').forEach(syncKind);
  document.addEventListener('change', function (e) {
    if (e.target && e.target.matches && e.target.matches('select[data-kind]')) syncKind(e.target);
  });
  // Live regions: [data-refresh=ms] reloads its own contents from the same URL while the tab is visible.
  document.querySelectorAll('[data-refresh][id]').forEach(function (el) {
    var every = Number(el.getAttribute('data-refresh')) || 3000;
    setInterval(function () {
      if (document.hidden || el.contains(document.activeElement)) return;
      fetch(location.href, { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.text() : null; }).then(function (body) {
        if (!body) return;
        var fresh = new DOMParser().parseFromString(body, 'text/html').getElementById(el.id);
        if (fresh && fresh.innerHTML !== el.innerHTML) el.innerHTML = fresh.innerHTML;
      }).catch(function () {});
    }, every);
  });
  // Live inbox: a WebSocket tells us something changed; the lists and transcript are re-read.
  var live = document.querySelector('[data-live-ws]');
  if (live && 'WebSocket' in window) {
    var status = document.getElementById('live-status');
    var refresh = function () {
      fetch(location.href, { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.text() : null; }).then(function (body) {
        if (!body) return;
        var doc = new DOMParser().parseFromString(body, 'text/html');
        document.querySelectorAll('[data-live-region][id]').forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh && fresh.innerHTML !== el.innerHTML && !el.contains(document.activeElement)) el.innerHTML = fresh.innerHTML;
        });
      }).catch(function () {});
    };
    var connect = function (delay) {
      var proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      var ws = new WebSocket(proto + '//' + location.host + live.getAttribute('data-live-ws'));
      ws.onopen = function () { delay = 500; if (status) status.textContent = 'Live: new chats and messages appear here.'; live.setAttribute('data-live', 'open'); };
      // A burst of events (a message and its status change) makes one re-read.
      var pending = null;
      ws.onmessage = function () { clearTimeout(pending); pending = setTimeout(refresh, 100); };
      ws.onclose = function () {
        live.setAttribute('data-live', 'closed');
        if (status) status.textContent = 'Reconnecting...';
        setTimeout(function () { connect(Math.min(delay * 2, 15000)); }, delay);
      };
    };
    connect(500);
  }
})();
`

interface Asset {
  body: string
  type: string
  etag: string
}

function asset(body: string, type: string): Asset {
  return { body, type, etag: `"${sha256Hex(body).slice(0, 16)}"` }
}

/** The dashboard's static files by name. */
export const ASSETS: Record<string, Asset> = {
  'dashboard.css': asset(CSS, 'text/css; charset=utf-8'),
  'dashboard.js': asset(JS, 'text/javascript; charset=utf-8'),
}

/** Serves one asset (304 when the browser has it). */
export function assetResponse(name: string, ifNoneMatch: string | null): Response | null {
  const a = ASSETS[name]
  if (!a) return null
  const headers = { 'content-type': a.type, etag: a.etag, 'cache-control': 'public, max-age=300, must-revalidate', 'x-content-type-options': 'nosniff' }
  if (ifNoneMatch === a.etag) return new Response(null, { status: 304, headers })
  return new Response(a.body, { headers })
}
