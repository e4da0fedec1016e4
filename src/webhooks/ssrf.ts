/**
 * The address guard against server-side request forgery: a webhook URL may only reach public
 * unicast addresses. Every address a host resolves to is classified (IPv4, IPv6, and IPv4
 * embedded in IPv6: mapped, compatible, NAT64, 6to4); one forbidden address refuses the URL.
 * Checked on create/update and again right before every send, where the request then goes to the
 * vetted address (so a DNS answer that changes in between cannot redirect it).
 */

export type AddressClass = 'public' | 'loopback' | 'unspecified' | 'private' | 'link-local' | 'cgnat' | 'unique-local' | 'metadata' | 'multicast' | 'reserved'

/** Cloud metadata endpoints, refused by address and by name before any lookup. */
const METADATA_V4 = new Set(['169.254.169.254', '169.254.170.2', '169.254.169.253', '100.100.100.200', '192.0.0.192'])
const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal'])

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

/**
 * 4 or 6 for an IP address literal (without brackets or zone), 0 for anything else; what
 * node:net's isIP answers, without importing node:net (~10 ms of every start). IPv6 is checked
 * by the WHATWG URL parser, which accepts exactly the RFC 4291 text forms.
 */
export function ipFamily(s: string): 0 | 4 | 6 {
  if (IPV4.test(s)) return 4
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return 0
  try {
    new URL(`http://[${s}]/`)
    return 6
  } catch {
    return 0
  }
}

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

function inV4(n: number, base: string, bits: number): boolean {
  const size = 2 ** (32 - bits)
  const start = v4ToInt(base)
  return n >= start && n < start + size
}

/** The class of an IPv4 address in dotted form. */
export function classifyIPv4(ip: string): AddressClass {
  if (METADATA_V4.has(ip)) return 'metadata'
  const n = v4ToInt(ip)
  if (n === 0 || inV4(n, '0.0.0.0', 8)) return 'unspecified'
  if (inV4(n, '127.0.0.0', 8)) return 'loopback'
  if (inV4(n, '10.0.0.0', 8) || inV4(n, '172.16.0.0', 12) || inV4(n, '192.168.0.0', 16)) return 'private'
  if (inV4(n, '169.254.0.0', 16)) return 'link-local'
  if (inV4(n, '100.64.0.0', 10)) return 'cgnat'
  if (inV4(n, '224.0.0.0', 4)) return 'multicast'
  // IETF protocol assignments, documentation, benchmarking, 6to4 relay, class E and broadcast.
  const reserved: [string, number][] = [
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['240.0.0.0', 4],
  ]
  if (reserved.some(([base, bits]) => inV4(n, base, bits))) return 'reserved'
  return 'public'
}

/** An IPv6 address as eight 16-bit groups (accepts `::`, an embedded dotted quad and a zone id). */
export function parseIPv6(ip: string): number[] {
  let s = ip.replace(/^\[|\]$/g, '').split('%')[0] as string
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)
  if (dotted) {
    const n = v4ToInt(dotted[1] as string)
    s = `${s.slice(0, dotted.index)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, null]
  const parse = (part: string) => (part ? part.split(':').map((g) => Number.parseInt(g, 16)) : [])
  const h = parse(head)
  const t = tail === null ? [] : parse(tail)
  const fill = tail === null ? [] : new Array(8 - h.length - t.length).fill(0)
  return [...h, ...fill, ...t]
}

function embeddedV4(g: number[]): string {
  const hi = g[6] as number
  const lo = g[7] as number
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
}

/** The class of an IPv6 address; IPv4 carried inside one is classified as that IPv4. */
export function classifyIPv6(ip: string): AddressClass {
  const g = parseIPv6(ip)
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0)
  if (zeros(0, 8)) return 'unspecified'
  if (zeros(0, 7) && g[7] === 1) return 'loopback'
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64): the IPv4 decides.
  if (zeros(0, 5) && g[5] === 0xffff) return classifyIPv4(embeddedV4(g))
  if (zeros(0, 6)) return classifyIPv4(embeddedV4(g))
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return classifyIPv4(embeddedV4(g))
  const first = g[0] as number
  if (first === 0x2002) {
    const a = g[1] as number
    const b = g[2] as number
    return classifyIPv4(`${a >> 8}.${a & 0xff}.${b >> 8}.${b & 0xff}`)
  }
  if (first === 0xfd00 && g[1] === 0x0ec2 && zeros(2, 7) && g[7] === 0x254) return 'metadata'
  if ((first & 0xffc0) === 0xfe80) return 'link-local'
  if ((first & 0xffc0) === 0xfec0) return 'private'
  if ((first & 0xfe00) === 0xfc00) return 'unique-local'
  if ((first & 0xff00) === 0xff00) return 'multicast'
  if ((first === 0x2001 && g[1] === 0x0db8) || (first === 0x0100 && zeros(1, 4))) return 'reserved'
  return 'public'
}

/** The class of any IP address literal. */
export function classifyAddress(ip: string): AddressClass {
  const bare = ip.replace(/^\[|\]$/g, '')
  const family = ipFamily(bare.split('%')[0] as string)
  if (family === 4) return classifyIPv4(bare)
  if (family === 6) return classifyIPv6(bare)
  throw new Error(`not an IP address: ${ip}`)
}

/** A resolved, vetted destination: connect to `address`, present `host` (Host header, TLS SNI). */
export interface VettedTarget {
  address: string
  family: 4 | 6
  host: string
  /** The URL with its host replaced by the vetted address. */
  pinnedUrl: string
}

/** Why a URL is refused: `dns` when its host does not resolve, `blocked` for a forbidden address. */
export class TargetRefusedError extends Error {
  constructor(
    readonly kind: 'dns' | 'blocked',
    message: string,
    readonly addressClass?: AddressClass,
  ) {
    super(message)
  }
}

export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), every address. */
export const systemResolver: Resolver = async (host) => {
  // Loaded on first use: only webhook URLs need it, and every start would pay for it.
  const { lookup } = await import('node:dns/promises')
  return lookup(host, { all: true, verbatim: true })
}

/**
 * Resolves the URL's host and vets every address. With `allowPrivate` nothing is refused (local
 * development) but the request is still pinned to the resolved address.
 */
export async function vetUrl(url: URL, allowPrivate: boolean, resolve: Resolver = systemResolver): Promise<VettedTarget> {
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const lower = host.toLowerCase().replace(/\.$/, '')
  if (!allowPrivate) {
    if (METADATA_NAMES.has(lower)) throw new TargetRefusedError('blocked', `${host} is a cloud metadata endpoint`, 'metadata')
    if (lower === 'localhost' || lower.endsWith('.localhost')) throw new TargetRefusedError('blocked', `${host} is a loopback name`, 'loopback')
  }
  let addresses: { address: string; family: number }[]
  const family = ipFamily(host)
  if (family) addresses = [{ address: host, family }]
  else {
    try {
      addresses = await resolve(lower)
    } catch (err) {
      throw new TargetRefusedError('dns', `${host} does not resolve (${(err as { code?: string }).code ?? String(err)})`)
    }
    if (addresses.length === 0) throw new TargetRefusedError('dns', `${host} does not resolve`)
  }
  if (!allowPrivate) {
    for (const a of addresses) {
      const cls = classifyAddress(a.address)
      if (cls !== 'public') throw new TargetRefusedError('blocked', `${host} resolves to ${a.address}, a ${cls} address`, cls)
    }
  }
  const chosen = addresses.find((a) => a.family === 4) ?? (addresses[0] as { address: string; family: number })
  const pinned = new URL(url.href)
  pinned.hostname = chosen.family === 6 ? `[${chosen.address}]` : chosen.address
  return { address: chosen.address, family: chosen.family === 6 ? 6 : 4, host: url.host, pinnedUrl: pinned.href }
}
