/**
 * The client address every per-IP limit, log line and metric keys on. Directly exposed, it is the
 * socket's peer. Behind your own reverse proxy (MLC_TRUST_PROXY=1) the peer is the proxy, so it is
 * the rightmost `X-Forwarded-For` entry instead: the one your proxy appended (nginx's
 * `$proxy_add_x_forwarded_for`). Entries left of it were written by the client and prove nothing.
 */
import ipaddr from 'ipaddr.js'

/** Reads client addresses with the server's proxy setting. */
export function createClientAddress(trustProxy: boolean): (request: Request, socketAddress: string | undefined) => string {
  if (!trustProxy) return (_request, socketAddress) => socketAddress ?? 'unknown'
  return (request, socketAddress) => forwardedFor(request.headers.get('x-forwarded-for')) ?? socketAddress ?? 'unknown'
}

/**
 * The rightmost X-Forwarded-For entry as a normalised IP address (several headers arrive joined
 * with commas), or null when it is absent or not an address: a proxy that sent garbage must not
 * give every client one shared key, nor let a client pick its own.
 */
export function forwardedFor(header: string | null): string | null {
  if (!header) return null
  const last = header.slice(header.lastIndexOf(',') + 1).trim()
  const bare = stripPort(last)
  // Only the forms proxies write: dotted-quad IPv4 (not `0x7f.1` or `1.2.3`, which ipaddr.js
  // also reads as addresses) and IPv6. An IPv4-mapped IPv6 address becomes its IPv4 form.
  if (!ipaddr.IPv4.isValidFourPartDecimal(bare) && !ipaddr.IPv6.isValid(bare)) return null
  return ipaddr.process(bare).toString()
}

/** `[v6]:port` -> `v6`, `v4:port` -> `v4`; anything else as it is. */
function stripPort(entry: string): string {
  if (entry.startsWith('[')) {
    const end = entry.indexOf(']')
    return end > 0 ? entry.slice(1, end) : entry
  }
  const colon = entry.indexOf(':')
  return colon > 0 && colon === entry.lastIndexOf(':') ? entry.slice(0, colon) : entry
}
