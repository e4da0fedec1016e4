/**
 * The product page's URL form, `/v1/api.ashx?resource=NAME&id=ID&action=A`, rewritten to the
 * canonical `/v1/NAME/ID?action=A` before routing, so one handler serves both. Works on the URL
 * string: this runs for every legacy request, and a URL object costs more than the routing itself.
 */
import { pathStart } from './url-path'

const LEGACY_PATH = '/v1/api.ashx'

/** The canonical URL for a legacy one, or null when `url` is not legacy (or names no resource). */
export function canonicalUrl(url: string): string | null {
  const start = pathStart(url)
  if (start < 0) return null
  const queryStart = url.indexOf('?', start)
  const path = url.slice(start, queryStart < 0 ? undefined : queryStart)
  if (path.toLowerCase() !== LEGACY_PATH) return null
  const params = new URLSearchParams(queryStart < 0 ? '' : url.slice(queryStart + 1))
  const resource = params.get('resource')
  if (!resource) return null
  const id = params.get('id')
  params.delete('resource')
  params.delete('id')
  const query = params.size > 0 ? `?${params.toString()}` : ''
  return `${url.slice(0, start)}/v1/${encodeURIComponent(resource)}${id ? `/${encodeURIComponent(id)}` : ''}${query}`
}
