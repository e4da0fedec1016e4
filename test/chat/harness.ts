/** Shorthands for chat tests: the widget's calls as a visitor makes them, and a small knowledge base. */
import type { TestApp } from '../helpers'

/** Articles the bot answers from in tests. */
export const KB = [
  {
    title: 'Reset your password',
    body: 'To reset your password, open Settings and click "Forgot password". A reset link arrives by email within a minute.\n\nPasswords need at least 12 characters.',
  },
  {
    title: 'Invoices',
    body: '## Downloading invoices\n\nInvoices are emailed on the first day of each month. Download past invoices as PDF or CSV from Billing > Invoices.',
  },
]

/** Loads KB into site 1 with the write token. */
export async function seedKb(t: TestApp): Promise<void> {
  for (const a of KB) {
    const r = await t.call('POST', '/v1/kb_articles', { body: a })
    if (r.status !== 201) throw new Error(`seeding kb failed: ${JSON.stringify(r.body)}`)
  }
}

/** A visitor of a site, calling the widget endpoints with the site's publishable key. */
export class Visitor {
  constructor(
    private readonly t: TestApp,
    readonly siteKey: string,
    readonly cred: { anon_id?: string; visitor_key?: string },
    private readonly ip = '10.1.2.3',
  ) {}

  /** Calls a widget endpoint with this visitor's credentials merged into the body (or the query for GET). */
  call(method: string, path: string, body: Record<string, unknown> = {}) {
    if (method === 'GET') {
      const qs = new URLSearchParams({ site_key: this.siteKey, ...(this.cred as Record<string, string>), ...(body as Record<string, string>) })
      return this.t.call('GET', `/v1/widget${path}${path.includes('?') ? '&' : '?'}${qs}`, { token: null, ip: this.ip })
    }
    return this.t.call(method, `/v1/widget${path}`, { token: null, ip: this.ip, body: { site_key: this.siteKey, ...this.cred, ...body } })
  }

  /** Opens a session; returns its id. */
  async open(extra: Record<string, unknown> = {}): Promise<string> {
    const r = await this.call('POST', '/sessions', extra)
    if (r.status !== 201) throw new Error(`open failed: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.data.session_id
  }

  /** Sends a message; returns the response. */
  say(sessionId: string, text: string) {
    return this.call('POST', `/sessions/${sessionId}/messages`, { text })
  }
}

/** The publishable key of site `id`. */
export async function siteKeyOf(t: TestApp, id: number): Promise<string> {
  const site = await t.store.sites.byId(id)
  if (!site) throw new Error(`no site ${id}`)
  return site.publishable_key
}
