/**
 * Reading the path of a request URL without parsing it (`new URL` costs more than the routing
 * decisions made with these, on every request). Request URLs are absolute: scheme, `//`, host.
 */

/** Where the path of an absolute URL starts (after scheme and host); -1 for a bare origin. */
export function pathStart(url: string): number {
  return url.indexOf('/', url.indexOf('//') + 2)
}

/** True when the URL's path is exactly `path` (a query string may follow). */
export function pathIs(url: string, path: string): boolean {
  const start = pathStart(url)
  if (start < 0 || !url.startsWith(path, start)) return false
  const next = url.charAt(start + path.length)
  return next === '' || next === '?'
}

/** Path and query of a request URL, absolute or (as Bun gives it without a usable Host) relative. */
export function pathAndQuery(url: string): string {
  if (url.charCodeAt(0) === 47 /* '/' */) return url
  const start = pathStart(url)
  return start < 0 ? '/' : url.slice(start)
}
