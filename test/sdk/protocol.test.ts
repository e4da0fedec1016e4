/**
 * The SDK (browser code, importing nothing from src/) duplicates a few names the server owns.
 * These tests keep both sides in agreement: a header the SDK sends must pass the CORS preflight,
 * a header it reads must be exposed to scripts, and the paths it calls or loads must be served.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { PATHS, RETRY_AFTER_HEADER, SDK_FILE, SENT_HEADERS, SITE_KEY_HEADER, WIDGET_FILE } from '../../sdk/src/protocol'
import { PUBLISHABLE_ROUTES } from '../../src/http/auth'
import { CORS_HEADERS, PREFLIGHT_HEADERS, RATE_LIMIT_HEADERS } from '../../src/http/headers'
import { WS_PATHS } from '../../src/http/websocket'
import { SITE_KEY_HEADER as SERVER_SITE_KEY_HEADER } from '../../src/modules/widget/model'
import { createTestApp, type TestApp } from '../helpers'

const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim().toLowerCase())

describe('SDK and server agree', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp()
  })
  afterAll(() => t.cleanup())

  test('every header the SDK sends is allowed by the preflight answer', () => {
    const allowed = list(PREFLIGHT_HEADERS['access-control-allow-headers'])
    for (const h of Object.values(SENT_HEADERS)) expect(allowed).toContain(h.toLowerCase())
  })

  test('the preflight the server actually answers allows them too', async () => {
    const res = await t.request('OPTIONS', PATHS.track, {
      token: null,
      headers: { origin: 'http://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    })
    expect(res.status).toBe(204)
    const allowed = list(res.headers.get('access-control-allow-headers') ?? '')
    for (const h of Object.values(SENT_HEADERS)) expect(allowed).toContain(h.toLowerCase())
    expect(list(res.headers.get('access-control-allow-methods') ?? '')).toContain('post')
  })

  test('the widget names the site with the header the server reads, and the preflight allows it', () => {
    expect(SITE_KEY_HEADER.toLowerCase()).toBe(SERVER_SITE_KEY_HEADER.toLowerCase())
    expect(list(PREFLIGHT_HEADERS['access-control-allow-headers'])).toContain(SITE_KEY_HEADER.toLowerCase())
  })

  test('the widget’s session endpoints and WebSocket are where the server serves them', async () => {
    expect(WS_PATHS.has(PATHS.widgetWs)).toBe(true)
    const res = await t.request('POST', PATHS.widgetSessions, { token: null, headers: { [SITE_KEY_HEADER]: 'pk_unknown' }, body: { anon_id: 'a1' } })
    expect(res.status).toBe(401) // routed to the widget guard, which refuses the unknown key
  })

  test('Retry-After, which the SDK reads on a 429, is a rate-limit header exposed to browsers', () => {
    expect(RATE_LIMIT_HEADERS.map((h) => h.toLowerCase())).toContain(RETRY_AFTER_HEADER.toLowerCase())
    expect(list(CORS_HEADERS['access-control-expose-headers'])).toContain(RETRY_AFTER_HEADER.toLowerCase())
  })

  test('the SDK posts only to routes a publishable key may call', () => {
    const routes = [...PUBLISHABLE_ROUTES].map((r) => r.replace(/\/$/, ''))
    expect(routes).toContain(`POST ${PATHS.visitors}`)
    expect(routes).toContain(`POST ${PATHS.track}`)
  })

  test('the server serves the two browser files at the paths the SDK loads', async () => {
    for (const path of [SDK_FILE, WIDGET_FILE]) {
      const res = await t.request('GET', path, { token: null })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toStartWith('text/javascript')
    }
  })
})
