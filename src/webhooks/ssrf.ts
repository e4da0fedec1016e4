/**
 * The address guard against server-side request forgery: a webhook URL may only reach public
 * unicast addresses. Every address a host resolves to is classified by ipaddr.js, a maintained
 * library that knows IANA's special-purpose ranges; anything it does not call `unicast` is
 * refused, and one forbidden address refuses the URL. Checked on create/update and again right
 * before every send, where the request then goes to the vetted address (so a DNS answer that
 * changes in between cannot redirect it).
 */
import type * as IpAddr from 'ipaddr.js'

/**
 * Why an address is allowed (`public`) or refused: `metadata` for cloud metadata endpoints,
 * otherwise ipaddr.js's range name in kebab case (`link-local`, `unique-local`, `cgnat`, `teredo`...).
 */
export type AddressClass =
  | 'public'
  | 'metadata'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'unique-local'
  | 'site-local'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'benchmarking'
  | 'as112'
  | 'amt'
  | 'discard'
  | 'ipv4-translated'
  | 'nat64-local'
  | '6to4'
  | 'teredo'
  | 'orchid'
  | 'drone-remote-id'
  | 'segment-routing'

/** ipaddr.js's range names where ours differ; any other name is used as it is. */
const CLASS_OF_RANGE: Record<string, AddressClass> = {
  unicast: 'public',
  linkLocal: 'link-local',
  carrierGradeNat: 'cgnat',
  uniqueLocal: 'unique-local',
  deprecatedSiteLocal: 'site-local',
  rfc6145: 'ipv4-translated',
  // Only the local-use NAT64 prefix (64:ff9b:1::/48) gets here: the well-known /96 is judged by the IPv4 it carries.
  rfc6052: 'nat64-local',
  as112v6: 'as112',
  deprecatedOrchid: 'orchid',
  orchid2: 'orchid',
  droneRemoteIdProtocolEntityTags: 'drone-remote-id',
  segmentRouting: 'segment-routing',
}

/** Cloud metadata endpoints, refused by address and by name before any lookup. */
const METADATA_ADDRESSES = new Set(['169.254.169.254', '169.254.170.2', '169.254.169.253', '100.100.100.200', '192.0.0.192', 'fd00:ec2::254'])
const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal'])

let library: typeof IpAddr | undefined
/** ipaddr.js, loaded on first use: only webhook URLs need it, and every start would pay ~1 ms for it. */
function ipaddr(): typeof IpAddr {
  library ??= require('ipaddr.js') as typeof IpAddr
  return library
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

/**
 * 4 or 6 for an IP address literal (without brackets or zone), 0 for anything else; what
 * node:net's isIP answers, without importing node:net (~10 ms of every start). IPv6 is checked
 * by the WHATWG URL parser, which accepts exactly the RFC 4291 text forms. (ipaddr.js's own
 * parser is looser on purpose: it reads `0x7f.1` and `010.0.0.1`, which are not literals here.)
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

function classOf(range: string): AddressClass {
  // A range a newer ipaddr.js adds keeps its own name; it is refused all the same.
  return CLASS_OF_RANGE[range] ?? (range as AddressClass)
}

function classifyV4(address: IpAddr.IPv4): AddressClass {
  if (METADATA_ADDRESSES.has(address.toString())) return 'metadata'
  return classOf(address.range())
}

let nat64: [IpAddr.IPv6, number] | undefined
let globalUnicastRange: [IpAddr.IPv6, number] | undefined
function wellKnownNat64(): [IpAddr.IPv6, number] {
  nat64 ??= ipaddr().IPv6.parseCIDR('64:ff9b::/96')
  return nat64
}
function globalUnicast(): [IpAddr.IPv6, number] {
  globalUnicastRange ??= ipaddr().IPv6.parseCIDR('2000::/3')
  return globalUnicastRange
}

function classifyV6(address: IpAddr.IPv6): AddressClass {
  if (METADATA_ADDRESSES.has(address.toString())) return 'metadata'
  const range = address.range()
  // Two forms carry an IPv4 address that the packet really goes to: IPv4-mapped (::ffff:a.b.c.d,
  // the kernel sends it as IPv4) and the well-known NAT64 prefix 64:ff9b::/96 (an IPv6-only host's
  // DNS64 answer for a public IPv4 site). The IPv4 they carry decides. Every other form that
  // embeds IPv4 (IPv4-translated ::ffff:0:a.b.c.d, local-use NAT64 64:ff9b:1::/48, 6to4, Teredo)
  // is not `unicast` to ipaddr.js and is refused whatever it carries.
  if (range === 'ipv4Mapped' || (range === 'rfc6052' && address.match(wellKnownNat64()))) {
    const [a, b, c, d] = address.toByteArray().slice(12)
    return classifyV4(new (ipaddr().IPv4)([a as number, b as number, c as number, d as number]))
  }
  // ipaddr.js calls `unicast` whatever is in none of its ranges, but IANA allocates global
  // unicast from 2000::/3 only; the rest (the deprecated IPv4-compatible ::a.b.c.d, 100:0:0:1::/64,
  // 4000::...) is reserved and reaches nothing on the internet.
  if (range === 'unicast' && !address.match(globalUnicast())) return 'reserved'
  return classOf(range)
}

/** The class of any IP address literal (brackets and an IPv6 zone id are allowed); throws for anything else. */
export function classifyAddress(ip: string): AddressClass {
  const bare = (ip.replace(/^\[|\]$/g, '').split('%')[0] as string).toLowerCase()
  const family = ipFamily(bare)
  if (family === 4) return classifyV4(ipaddr().IPv4.parse(bare))
  // The WHATWG URL parser's canonical hex form first: ipaddr.js reads the deprecated
  // IPv4-compatible `::10.0.0.1` as if it were IPv4-mapped `::ffff:10.0.0.1`, a different address.
  if (family === 6) return classifyV6(ipaddr().IPv6.parse(new URL(`http://[${bare}]/`).hostname.slice(1, -1)))
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
      if (cls === 'public') continue
      const what = `${/^(?:[aeio]|un(?!i))/.test(cls) ? 'an' : 'a'} ${cls} address`
      throw new TargetRefusedError('blocked', family ? `${host} is ${what}` : `${host} resolves to ${a.address}, ${what}`, cls)
    }
  }
  const chosen = addresses.find((a) => a.family === 4) ?? (addresses[0] as { address: string; family: number })
  const pinned = new URL(url.href)
  pinned.hostname = chosen.family === 6 ? `[${chosen.address}]` : chosen.address
  return { address: chosen.address, family: chosen.family === 6 ? 6 : 4, host: url.host, pinnedUrl: pinned.href }
}
