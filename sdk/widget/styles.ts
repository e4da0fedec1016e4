/** The widget's stylesheet, scoped by its Shadow DOM so it neither leaks into the page nor inherits from it. */
export const WIDGET_CSS = `
:host { all: initial; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; }
:host([data-visible="false"]) .launcher, :host([data-visible="false"]) .panel, :host([data-open="false"]) .panel { display: none; }
* { box-sizing: border-box; }
button, textarea { font: inherit; color: inherit; }
button { cursor: pointer; }
:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px; border-radius: 50%;
  border: 0; background: #2563eb; color: #fff; box-shadow: 0 6px 20px rgba(0,0,0,.25); display: grid; place-items: center; }
.launcher svg { width: 26px; height: 26px; fill: currentColor; }
.panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483000; width: 370px; max-width: calc(100vw - 24px);
  height: 560px; max-height: calc(100vh - 108px); display: flex; flex-direction: column; background: #fff;
  border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.28); overflow: hidden; }
header { background: #2563eb; color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 8px; }
header .titles { flex: 1; min-width: 0; }
header h2 { font-size: 16px; margin: 0; }
header p { margin: 0; font-size: 13px; opacity: .9; }
header button { background: rgba(255,255,255,.16); border: 0; color: #fff; border-radius: 8px; padding: 6px 9px; font-size: 13px; }
header button[hidden] { display: none; }
.intro { margin: 0; padding: 12px 12px 0; background: #f9fafb; color: #374151; font-size: 14px; }
.panel:has(.log li) .intro { display: none; }
.log { flex: 1; overflow-y: auto; margin: 0; padding: 12px; list-style: none; display: flex; flex-direction: column; gap: 8px; background: #f9fafb; }
.msg { max-width: 85%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.msg .who { display: block; font-size: 11px; font-weight: 600; opacity: .7; margin-bottom: 2px; }
.msg.visitor { align-self: flex-end; background: #2563eb; color: #fff; border-bottom-right-radius: 4px; }
.msg.ai, .msg.agent { align-self: flex-start; background: #fff; border: 1px solid #e5e7eb; border-bottom-left-radius: 4px; }
.msg.agent { border-color: #86efac; background: #f0fdf4; }
.msg.system { align-self: center; background: none; color: #4b5563; font-size: 13px; font-style: italic; text-align: center; }
.msg.pending { opacity: .6; }
.msg.failed { background: #fee2e2; color: #7f1d1d; }
.starters { display: flex; flex-wrap: wrap; gap: 6px; padding: 8px 12px 0; background: #f9fafb; }
.starters:empty { display: none; }
.starters button { border: 1px solid #2563eb; background: #eff6ff; color: #1e3a8a; border-radius: 16px; padding: 5px 11px; font-size: 13px; text-align: left; }
form.composer { display: flex; gap: 8px; padding: 10px 12px; border-top: 1px solid #e5e7eb; background: #fff; }
form.composer textarea { flex: 1; resize: none; border: 1px solid #d1d5db; border-radius: 10px; padding: 8px 10px; height: 42px; }
form button[type=submit] { border: 0; background: #2563eb; color: #fff; border-radius: 10px; padding: 0 14px; font-weight: 600; }
form button[disabled] { opacity: .5; cursor: default; }
.rating { padding: 12px; border-top: 1px solid #e5e7eb; background: #fff; display: flex; flex-direction: column; gap: 8px; }
.rating[hidden], .composer[hidden], .thanks[hidden] { display: none; }
.rating fieldset { border: 0; margin: 0; padding: 0; display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.rating legend { font-weight: 600; margin-bottom: 6px; padding: 0; }
.rating .stars button { border: 1px solid #d1d5db; background: #fff; border-radius: 8px; min-width: 40px; height: 40px; font-size: 18px; }
.rating .stars button.lit { background: #fde68a; border-color: #f59e0b; }
.rating textarea { border: 1px solid #d1d5db; border-radius: 10px; padding: 8px 10px; min-height: 60px; resize: vertical; }
.rating button[type=submit] { height: 40px; }
.thanks { padding: 14px; border-top: 1px solid #e5e7eb; background: #fff; text-align: center; }
.thanks button { margin-top: 8px; border: 1px solid #2563eb; background: #eff6ff; color: #1e3a8a; border-radius: 10px; padding: 7px 12px; }
.error { color: #b91c1c; font-size: 13px; margin: 0; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 480px) {
  .panel { right: 0; bottom: 0; width: 100vw; max-width: 100vw; height: 100%; max-height: 100%; border-radius: 0; }
  :host([data-open="true"]) .launcher { display: none; }
  header { flex-wrap: wrap; }
  header .titles { order: 1; flex: 1 1 calc(100% - 52px); }
  header .minimize { order: 2; font-size: 15px; }
  header .human, header .end { order: 3; }
}
`
