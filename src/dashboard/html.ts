/**
 * Server-side HTML: a tagged template that escapes every interpolated value unless it is already
 * `Html`, so a page cannot forget to escape user data. No templating library needed.
 */

/** A string known to be safe HTML. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for HTML content and quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string)
}

function render(value: unknown): string {
  if (value instanceof Html) return value.value
  if (value === null || value === undefined || value === false) return ''
  if (Array.isArray(value)) return value.map(render).join('')
  return escapeHtml(String(value))
}

/** The HTML template tag: `html\`<p>${name}</p>\`` escapes `name`. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? ''
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '')
  return new Html(out)
}

/** Marks a trusted string (built by this code, never from input) as HTML. */
export function raw(s: string): Html {
  return new Html(s)
}

/** A `<time>` element: readable UTC text, the exact instant in `datetime`. */
export function time(ms: number | null | undefined, empty = 'never'): Html {
  if (!ms) return html`<span class="muted">${empty}</span>`
  const iso = new Date(ms).toISOString()
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time>`
}

/** A `<time>` from an ISO-8601 string (what services return). */
export function timeIso(iso: string | null | undefined, empty = 'never'): Html {
  return time(iso ? Date.parse(iso) : null, empty)
}

/**
 * A small bar chart as inline SVG (no script, no inline style, so it passes the CSP), with a text
 * alternative for screen readers.
 */
export function barChart(points: { label: string; value: number }[], opts: { width?: number; height?: number; title: string }): Html {
  const width = opts.width ?? 150
  const height = opts.height ?? 32
  const max = Math.max(1, ...points.map((p) => p.value))
  const step = width / Math.max(1, points.length)
  const bars = points.map((p, i) => {
    const h = p.value === 0 ? 1 : Math.max(2, Math.round((p.value / max) * (height - 2)))
    const cls = p.value === 0 ? 'bar zero' : 'bar'
    return html`<rect class="${cls}" x="${(i * step + 0.5).toFixed(1)}" y="${height - h}" width="${Math.max(1, step - 1).toFixed(1)}" height="${h}"><title>${p.label}: ${p.value}</title></rect>`
  })
  const total = points.reduce((s, p) => s + p.value, 0)
  return html`<svg class="chart" role="img" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" aria-label="${opts.title}: ${total} in total, peak ${max === 1 && total === 0 ? 0 : max} a day">${bars}</svg>`
}
