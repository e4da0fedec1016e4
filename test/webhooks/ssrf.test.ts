/**
 * The address guard: every class is recognised from the address alone; nothing here opens a
 * connection (resolvers are tables, and a refused URL is refused before any request).
 */
import { describe, expect, test } from 'bun:test'
import { isIP } from 'node:net'
import { type AddressClass, classifyAddress, ipFamily, type Resolver, TargetRefusedError, vetUrl } from '../../src/webhooks/ssrf'

/**
 * IANA's IPv4 Special-Purpose Address Registry (iana-ipv4-special-registry, as of 2025-10), every
 * entry: the block, addresses inside it (first and last where the block is larger than one
 * address) and the class the guard gives them. Every
 * entry is refused, including the ones IANA marks globally reachable (anycast services such as
 * PCP, TURN, AS112 and AMT): ipaddr.js does not call them `unicast`, and no webhook receiver
 * lives on an anycast protocol service.
 */
const ipv4Registry: [block: string, name: string, addresses: string[], cls: AddressClass][] = [
  ['0.0.0.0/8', '"This network"', ['0.0.0.1', '0.255.255.255'], 'unspecified'],
  ['0.0.0.0/32', '"This host on this network"', ['0.0.0.0'], 'unspecified'],
  ['10.0.0.0/8', 'Private-Use', ['10.0.0.0', '10.255.255.255'], 'private'],
  ['100.64.0.0/10', 'Shared Address Space (CGNAT)', ['100.64.0.0', '100.127.255.255'], 'cgnat'],
  ['127.0.0.0/8', 'Loopback', ['127.0.0.1', '127.255.255.255'], 'loopback'],
  ['169.254.0.0/16', 'Link Local', ['169.254.0.1', '169.254.255.255'], 'link-local'],
  ['172.16.0.0/12', 'Private-Use', ['172.16.0.0', '172.31.255.255'], 'private'],
  ['192.0.0.0/24', 'IETF Protocol Assignments', ['192.0.0.0', '192.0.0.255'], 'reserved'],
  ['192.0.0.0/29', 'IPv4 Service Continuity Prefix', ['192.0.0.1', '192.0.0.7'], 'reserved'],
  ['192.0.0.8/32', 'IPv4 dummy address', ['192.0.0.8'], 'reserved'],
  ['192.0.0.9/32', 'Port Control Protocol Anycast (globally reachable)', ['192.0.0.9'], 'reserved'],
  ['192.0.0.10/32', 'Traversal Using Relays around NAT Anycast (globally reachable)', ['192.0.0.10'], 'reserved'],
  ['192.0.0.170/32', 'NAT64/DNS64 Discovery', ['192.0.0.170'], 'reserved'],
  ['192.0.0.171/32', 'NAT64/DNS64 Discovery', ['192.0.0.171'], 'reserved'],
  ['192.0.2.0/24', 'Documentation (TEST-NET-1)', ['192.0.2.0', '192.0.2.255'], 'reserved'],
  ['192.31.196.0/24', 'AS112-v4 (globally reachable)', ['192.31.196.1', '192.31.196.255'], 'as112'],
  ['192.52.193.0/24', 'AMT (globally reachable)', ['192.52.193.1', '192.52.193.255'], 'amt'],
  ['192.88.99.0/24', 'Deprecated (6to4 Relay Anycast)', ['192.88.99.1', '192.88.99.255'], 'reserved'],
  ['192.88.99.2/32', '6a44-relay anycast address', ['192.88.99.2'], 'reserved'],
  ['192.168.0.0/16', 'Private-Use', ['192.168.0.0', '192.168.255.255'], 'private'],
  ['192.175.48.0/24', 'Direct Delegation AS112 Service (globally reachable)', ['192.175.48.1', '192.175.48.255'], 'as112'],
  ['198.18.0.0/15', 'Benchmarking', ['198.18.0.0', '198.19.255.255'], 'reserved'],
  ['198.51.100.0/24', 'Documentation (TEST-NET-2)', ['198.51.100.0', '198.51.100.255'], 'reserved'],
  ['203.0.113.0/24', 'Documentation (TEST-NET-3)', ['203.0.113.0', '203.0.113.255'], 'reserved'],
  ['240.0.0.0/4', 'Reserved', ['240.0.0.1', '255.255.255.254'], 'reserved'],
  ['255.255.255.255/32', 'Limited Broadcast', ['255.255.255.255'], 'broadcast'],
  // Not in the special-purpose registry (it has its own), refused all the same.
  ['224.0.0.0/4', 'Multicast', ['224.0.0.1', '239.255.255.255'], 'multicast'],
]

/** IANA's IPv6 Special-Purpose Address Registry, every entry, as above. */
const ipv6Registry: [block: string, name: string, addresses: string[], cls: AddressClass][] = [
  ['::1/128', 'Loopback Address', ['::1'], 'loopback'],
  ['::/128', 'Unspecified Address', ['::'], 'unspecified'],
  // IPv4-mapped and the well-known NAT64 prefix are judged by the IPv4 they carry (see below).
  ['::ffff:0:0/96', 'IPv4-mapped Address', ['::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:7fff:ffff'], 'loopback'],
  ['64:ff9b::/96', 'IPv4-IPv6 Translat. (globally reachable)', ['64:ff9b::127.0.0.1', '64:ff9b::7f00:1'], 'loopback'],
  [
    '64:ff9b:1::/48',
    'IPv4-IPv6 Translat. (local use)',
    ['64:ff9b:1::', '64:ff9b:1::7f00:1', '64:ff9b:1::808:808', '64:ff9b:1:ffff:ffff:ffff:ffff:ffff'],
    'nat64-local',
  ],
  ['100::/64', 'Discard-Only Address Block', ['100::', '100::ffff:ffff:ffff:ffff'], 'discard'],
  // ipaddr.js 2.5 has no range for it yet; it is outside 2000::/3, the only global unicast space.
  ['100:0:0:1::/64', 'Dummy IPv6 Prefix', ['100:0:0:1::', '100::1:ffff:ffff:ffff:ffff'], 'reserved'],
  ['2001::/23', 'IETF Protocol Assignments', ['2001:100::1', '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff'], 'reserved'],
  ['2001::/32', 'TEREDO', ['2001::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001:0:ffff:ffff:ffff:ffff:ffff:ffff'], 'teredo'],
  ['2001:1::1/128', 'Port Control Protocol Anycast (globally reachable)', ['2001:1::1'], 'reserved'],
  ['2001:1::2/128', 'Traversal Using Relays around NAT Anycast (globally reachable)', ['2001:1::2'], 'reserved'],
  ['2001:1::3/128', 'DNS-SD Service Registration Protocol Anycast (globally reachable)', ['2001:1::3'], 'reserved'],
  ['2001:2::/48', 'Benchmarking', ['2001:2::', '2001:2:0:ffff:ffff:ffff:ffff:ffff'], 'benchmarking'],
  ['2001:3::/32', 'AMT (globally reachable)', ['2001:3::1', '2001:3:ffff:ffff:ffff:ffff:ffff:ffff'], 'amt'],
  ['2001:4:112::/48', 'AS112-v6 (globally reachable)', ['2001:4:112::1', '2001:4:112:ffff:ffff:ffff:ffff:ffff'], 'as112'],
  ['2001:10::/28', 'Deprecated (previously ORCHID)', ['2001:10::1', '2001:1f:ffff:ffff:ffff:ffff:ffff:ffff'], 'orchid'],
  ['2001:20::/28', 'ORCHIDv2 (globally reachable)', ['2001:20::1', '2001:2f:ffff:ffff:ffff:ffff:ffff:ffff'], 'orchid'],
  ['2001:30::/28', 'Drone Remote ID Protocol Entity Tags (globally reachable)', ['2001:30::1', '2001:3f:ffff:ffff:ffff:ffff:ffff:ffff'], 'drone-remote-id'],
  ['2001:db8::/32', 'Documentation', ['2001:db8::1', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'], 'reserved'],
  ['2002::/16', '6to4', ['2002::1', '2002:808:808::1', '2002:7f00:1::1', '2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], '6to4'],
  ['2620:4f:8000::/48', 'Direct Delegation AS112 Service (globally reachable)', ['2620:4f:8000::1', '2620:4f:8000:ffff:ffff:ffff:ffff:ffff'], 'as112'],
  ['3fff::/20', 'Documentation', ['3fff::1', '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff'], 'reserved'],
  ['5f00::/16', 'Segment Routing (SRv6) SIDs', ['5f00::1', '5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], 'segment-routing'],
  ['fc00::/7', 'Unique-Local', ['fc00::1', 'fd12:3456:789a::1', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], 'unique-local'],
  ['fe80::/10', 'Link-Local Unicast', ['fe80::1', 'fe80::1%eth0', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'], 'link-local'],
  // Not in the special-purpose registry, refused all the same.
  ['ff00::/8', 'Multicast', ['ff02::1', 'ff0e::1'], 'multicast'],
  ['fec0::/10', 'Site-local (deprecated)', ['fec0::1'], 'site-local'],
  // Deprecated IPv4-compatible addresses are not IPv4-mapped ones, whatever IPv4 they spell.
  ['::/96', 'IPv4-compatible (deprecated)', ['::7f00:1', '::127.0.0.1', '::10.0.0.1', '::8.8.8.8', '::808:808'], 'reserved'],
  ['4000::/3', 'Reserved by IETF (outside 2000::/3)', ['4000::1', 'e000::1'], 'reserved'],
]

describe('classifyAddress: every entry of the IANA special-purpose registries is refused', () => {
  for (const [block, name, addresses, cls] of [...ipv4Registry, ...ipv6Registry]) {
    test(`${block} ${name}: ${cls}`, () => {
      for (const address of addresses) expect({ address, cls: classifyAddress(address) }).toEqual({ address, cls })
    })
  }
})

describe('classifyAddress: public unicast is allowed', () => {
  const allowed = [
    ...['8.8.8.8', '1.1.1.1', '93.184.215.14', '172.32.0.1', '172.15.255.255', '100.128.0.1', '100.63.255.255', '192.0.1.1', '192.0.3.1'],
    ...['198.17.255.255', '198.20.0.1', '11.0.0.1', '126.255.255.255', '128.0.0.1', '223.255.255.254', '192.88.98.1', '192.169.0.1'],
    ...['2606:4700:4700::1111', '2a00:1450:4001:81b::200e', '2001:4860:4860::8888', '2001:200::1', '2620:4f:8001::1'],
    ...['2003::1', '2001:db9::1', '3ffe::1', '3fff:1000::1', '[2606:4700::1]'],
    // The IPv4 inside the two embeddings that really reach it decides.
    ...['::ffff:8.8.8.8', '::ffff:808:808', '64:ff9b::8.8.8.8', '64:ff9b::101:101'],
  ]
  for (const address of allowed) test(`${address} is public`, () => expect(classifyAddress(address)).toBe('public'))
})

describe('classifyAddress: IPv4 carried in IPv6', () => {
  const table: [string, AddressClass][] = [
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:a00:1', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:100.64.0.1', 'cgnat'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:224.0.0.1', 'multicast'],
    ['64:ff9b::192.168.1.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::192.0.2.1', 'reserved'],
    // Embeddings that are refused whatever they carry.
    ['::ffff:0:7f00:1', 'ipv4-translated'],
    ['::ffff:0:808:808', 'ipv4-translated'],
    ['64:ff9b:1::7f00:1', 'nat64-local'],
    ['2002:a9fe:a9fe::1', '6to4'],
    ['2002:808:808::1', '6to4'],
  ]
  for (const [ip, cls] of table) test(`${ip} is ${cls}`, () => expect(classifyAddress(ip)).toBe(cls))
})

describe('classifyAddress: cloud metadata endpoints', () => {
  for (const ip of ['169.254.169.254', '169.254.170.2', '169.254.169.253', '100.100.100.200', '192.0.0.192', 'fd00:ec2::254', 'FD00:0EC2:0:0:0:0:0:254']) {
    test(`${ip} is metadata`, () => expect(classifyAddress(ip)).toBe('metadata'))
  }

  test('rejects what is not an address, including spellings only a loose parser reads', () => {
    for (const s of ['example.com', '0x7f.1', '2130706433', '010.0.0.1', '1.2.3', '']) expect(() => classifyAddress(s)).toThrow('not an IP address')
  })
})

/** A resolver answering from a table, so DNS answers can be private without any lookup leaving the machine. */
function fakeDns(answers: Record<string, string[]>): Resolver {
  return async (host) => {
    const list = answers[host]
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
}

describe('vetUrl', () => {
  const dns = fakeDns({
    'hooks.example.com': ['93.184.215.14'],
    'v6.example.com': ['2606:4700::1'],
    'nat64.example.com': ['64:ff9b::5db8:d70e'],
    'rebind.example.com': ['93.184.215.14', '10.0.0.7'],
    'internal.example.com': ['192.168.1.20'],
    'mapped.example.com': ['::ffff:127.0.0.1'],
    'teredo.example.com': ['2606:4700::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
  })

  test('a host with only public addresses is pinned to one of them', async () => {
    const t = await vetUrl(new URL('https://hooks.example.com:8443/in?x=1'), false, dns)
    expect(t).toEqual({ address: '93.184.215.14', family: 4, host: 'hooks.example.com:8443', pinnedUrl: 'https://93.184.215.14:8443/in?x=1' })
    const v6 = await vetUrl(new URL('http://v6.example.com/in'), false, dns)
    expect(v6.pinnedUrl).toBe('http://[2606:4700::1]/in')
    // An IPv6-only host's DNS64 answer for a public IPv4 site.
    const nat64 = await vetUrl(new URL('http://nat64.example.com/in'), false, dns)
    expect(nat64.pinnedUrl).toBe('http://[64:ff9b::5db8:d70e]/in')
  })

  const refusals: [string, AddressClass][] = [
    ['http://rebind.example.com/', 'private'],
    ['http://internal.example.com/', 'private'],
    ['http://mapped.example.com/', 'loopback'],
    ['http://teredo.example.com/', 'teredo'],
    ['http://localhost:8080/', 'loopback'],
    ['http://metadata.google.internal/', 'metadata'],
    ['http://[::ffff:a9fe:a9fe]/', 'metadata'],
    // The five addresses issue 14 found accepted.
    ['http://[::ffff:0:7f00:1]/', 'ipv4-translated'],
    ['http://[64:ff9b:1::7f00:1]/', 'nat64-local'],
    ['http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', 'teredo'],
    ['http://[2001:2::1]/', 'benchmarking'],
    ['http://[3fff::1]/', 'reserved'],
    // Numeric spellings are normalised by the URL parser first.
    ['http://2130706433/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
  ]
  for (const [url, cls] of refusals) {
    test(`${url} is refused as ${cls}`, async () => {
      const err = await vetUrl(new URL(url), false, dns).catch((e) => e)
      expect(err).toBeInstanceOf(TargetRefusedError)
      expect(err).toMatchObject({ kind: 'blocked', addressClass: cls })
      expect(err.message).toContain(cls)
    })
  }

  test('the refusal names the address and its class', async () => {
    const literal = await vetUrl(new URL('http://[::ffff:0:7f00:1]/'), false, dns).catch((e) => e)
    expect(literal.message).toBe('::ffff:0:7f00:1 is an ipv4-translated address')
    const named = await vetUrl(new URL('http://internal.example.com/'), false, dns).catch((e) => e)
    expect(named.message).toBe('internal.example.com resolves to 192.168.1.20, a private address')
  })

  test('a host that does not resolve is a dns refusal', async () => {
    const err = await vetUrl(new URL('http://nowhere.example.com/'), false, dns).catch((e) => e)
    expect(err).toMatchObject({ kind: 'dns' })
    expect(err.message).toContain('ENOTFOUND')
  })

  test('MLC_WEBHOOK_ALLOW_PRIVATE lifts the refusal but still pins', async () => {
    const t = await vetUrl(new URL('http://internal.example.com/x'), true, dns)
    expect(t.pinnedUrl).toBe('http://192.168.1.20/x')
    const translated = await vetUrl(new URL('http://[::ffff:0:7f00:1]:9/x'), true, dns)
    expect(translated.pinnedUrl).toBe('http://[::ffff:0:7f00:1]:9/x')
  })
})

describe('ipFamily', () => {
  test('answers what node:net isIP answers, without loading node:net', () => {
    const literals = [
      ...['1.2.3.4', '255.255.255.255', '0.0.0.0', '256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4 ', ''],
      ...['::', '::1', 'fe80::1', '::ffff:1.2.3.4', '64:ff9b::1.2.3.4', '2001:db8::1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::'],
      ...['1::2::3', 'gggg::1', '12345::1', '1:2:3:4:5:6:7:8:9', '::ffff:1.2.3.256', ':::', '[::1]', 'example.com', '::1]/x[', '1.2.3.4/8'],
    ]
    for (const s of literals) expect({ s, family: ipFamily(s) }).toEqual({ s, family: isIP(s) as 0 | 4 | 6 })
  })
})
