/**
 * The product page's URL form, `/v1/api.ashx?resource=NAME&id=ID&action=A`, rewritten to the
 * canonical `/v1/NAME/ID?action=A` before routing, so one handler serves both.
 */
const LEGACY_PATH = '/v1/api.ashx'

/** The canonical URL for a legacy one, or null when `url` is not legacy (or names no resource). */
export function canonicalUrl(url: URL): URL | null {
  if (url.pathname.toLowerCase() !== LEGACY_PATH) return null
  const params = new URLSearchParams(url.search)
  const resource = params.get('resource')
  if (!resource) return null
  const id = params.get('id')
  params.delete('resource')
  params.delete('id')
  const out = new URL(url)
  out.pathname = `/v1/${encodeURIComponent(resource)}${id ? `/${encodeURIComponent(id)}` : ''}`
  out.search = params.toString()
  return out
}
