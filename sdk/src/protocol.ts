/**
 * Names the visitor SDK and widget share with the server: header names, storage keys, paths and
 * limits. Browser code imports nothing from `src/`; test/sdk/protocol.test.ts keeps these in
 * agreement with src/http/headers.ts and the server's routes.
 */

/** Request headers the SDK sends (must be allowed by the server's CORS preflight answer). */
export const SENT_HEADERS = { auth: 'Authorization', type: 'Content-Type', idem: 'Idempotency-Key' } as const
/** Request header the widget names the site with (must be allowed by the preflight too). */
export const SITE_KEY_HEADER = 'X-MLC-Site-Key'
/** Response header the SDK reads on a 429 (must be exposed to browsers by the server). */
export const RETRY_AFTER_HEADER = 'Retry-After'

/** localStorage key of the identity: `{ anon_id, key?, attributes }`. */
export const IDENTITY_KEY = 'mlc:identity'
/** localStorage key of the last events tracked (a ring of `EVENTS_KEPT`). */
export const EVENTS_KEY = 'mlc:events'
/** localStorage key of requests waiting to be (re)sent. */
export const OUTBOX_KEY = 'mlc:outbox'
/** localStorage key of the widget's open chat session. */
export const CHAT_KEY = 'mlc:chat'

/** How many tracked events `mlc:events` keeps. */
export const EVENTS_KEPT = 50
/** Most requests the outbox holds; the oldest are dropped past it. */
export const OUTBOX_MAX = 100
/** Attempts before a request is given up. */
export const OUTBOX_TRIES = 10
/** identify/update calls within this window make one request. */
export const IDENTIFY_DEBOUNCE_MS = 800

/** API paths under the API base. */
export const PATHS = { visitors: '/v1/visitors', track: '/v1/track', widgetSessions: '/v1/widget/sessions', widgetWs: '/v1/widget/ws' } as const
/** Where the server serves the two browser files. */
export const SDK_FILE = '/assets/js/mlc-visitor-sdk.js'
export const WIDGET_FILE = '/assets/js/mlc-widget.js'
/** id of the element hosting the widget's Shadow DOM. */
export const HOST_ID = 'mylivechat-widget'
