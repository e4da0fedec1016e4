/**
 * Knows which paths and methods the app serves, to tell a 405 (known path, other method, with
 * `Allow`) from a 404 (unknown resource, with the list of valid ones).
 */
import { MethodNotAllowedError, NotFoundError } from '../errors'

interface RoutePattern {
  regex: RegExp
  methods: Set<string>
}

/** Paths under /v1 that are not API resources. */
const NON_RESOURCES = new Set(['openapi', 'openapi.json', 'widget', 'api.ashx'])

export class RouteTable {
  private patterns: RoutePattern[] = []
  readonly resources: string[]

  constructor(routes: { method: string; path: string }[]) {
    const byPath = new Map<string, Set<string>>()
    const resources = new Set<string>()
    for (const r of routes) {
      if (!byPath.has(r.path)) byPath.set(r.path, new Set())
      byPath.get(r.path)?.add(r.method.toUpperCase())
      const m = /^\/v1\/([a-z_]+)(?:\/|$)/.exec(r.path)
      if (m?.[1] && !NON_RESOURCES.has(m[1])) resources.add(m[1])
    }
    for (const [path, methods] of byPath) {
      const source = (path.length > 1 ? path.replace(/\/+$/, '') : path)
        .split('/')
        .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/')
      this.patterns.push({ regex: new RegExp(`^${source}/?$`), methods })
    }
    this.resources = [...resources].sort()
  }

  /** The error for a request no route matched. */
  unmatched(method: string, pathname: string): Error {
    const allowed = new Set<string>()
    for (const p of this.patterns) if (p.regex.test(pathname)) for (const m of p.methods) allowed.add(m)
    allowed.delete('ALL')
    if (allowed.size > 0) {
      if (allowed.has('GET')) allowed.add('HEAD')
      allowed.add('OPTIONS')
      return new MethodNotAllowedError(method, [...allowed].sort())
    }
    const m = /^\/v1\/([^/]+)/.exec(pathname)
    if (m?.[1] && !this.resources.includes(m[1])) {
      return new NotFoundError(`Unknown resource "${decodeURIComponent(m[1])}". Valid resources: ${this.resources.join(', ')}.`, 'resource')
    }
    return new NotFoundError(`Nothing at ${pathname}.`)
  }
}
