/** The address guard: every class is recognised from the address alone; nothing here opens a connection. */
import { describe, expect, test } from 'bun:test'
import { isIP } from 'node:net'
import { type AddressClass, classifyAddress, ipFamily, parseIPv6, type Resolver, TargetRefusedError, vetUrl } from '../../src/webhooks/ssrf'

const table: [string, AddressClass][] = [
  ['8.8.8.8', 'public'],
  ['93.184.215.14', 'public'],
  ['172.32.0.1', 'public'],
  ['100.128.0.1', 'public'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.5.4', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.0.1', 'private'],
  ['169.254.0.1', 'link-local'],
  ['100.64.0.1', 'cgnat'],
  ['100.127.255.254', 'cgnat'],
  ['169.254.169.254', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['224.0.0.1', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'reserved'],
  ['192.0.2.10', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['2606:4700:4700::1111', 'public'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['fc00::1', 'unique-local'],
  ['fd12:3456:789a::1', 'unique-local'],
  ['fd00:ec2::254', 'metadata'],
  ['ff02::1', 'multicast'],
  ['2001:db8::1', 'reserved'],
  ['fec0::1', 'private'],
  // IPv4 inside IPv6: the IPv4 decides.
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.0.0.1', 'private'],
  ['::ffff:a00:1', 'private'],
  ['::ffff:169.254.169.254', 'metadata'],
  ['::ffff:8.8.8.8', 'public'],
  ['::10.0.0.1', 'private'],
  ['64:ff9b::192.168.1.1', 'private'],
  ['64:ff9b::8.8.8.8', 'public'],
  ['2002:a9fe:a9fe::1', 'metadata'],
  ['2002:0808:0808::1', 'public'],
]

describe('classifyAddress', () => {
  for (const [ip, cls] of table) test(`${ip} is ${cls}`, () => expect(classifyAddress(ip)).toBe(cls))

  test('parses every IPv6 spelling into eight groups', () => {
    expect(parseIPv6('::')).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
    expect(parseIPv6('1::')).toEqual([1, 0, 0, 0, 0, 0, 0, 0])
    expect(parseIPv6('[::ffff:1.2.3.4]')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304])
    expect(parseIPv6('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })

  test('rejects what is not an address', () => {
    expect(() => classifyAddress('example.com')).toThrow()
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
    'rebind.example.com': ['93.184.215.14', '10.0.0.7'],
    'internal.example.com': ['192.168.1.20'],
    'mapped.example.com': ['::ffff:127.0.0.1'],
  })

  test('a host with only public addresses is pinned to one of them', async () => {
    const t = await vetUrl(new URL('https://hooks.example.com:8443/in?x=1'), false, dns)
    expect(t).toEqual({ address: '93.184.215.14', family: 4, host: 'hooks.example.com:8443', pinnedUrl: 'https://93.184.215.14:8443/in?x=1' })
    const v6 = await vetUrl(new URL('http://v6.example.com/in'), false, dns)
    expect(v6.pinnedUrl).toBe('http://[2606:4700::1]/in')
  })

  const refusals: [string, AddressClass][] = [
    ['http://rebind.example.com/', 'private'],
    ['http://internal.example.com/', 'private'],
    ['http://mapped.example.com/', 'loopback'],
    ['http://localhost:8080/', 'loopback'],
    ['http://metadata.google.internal/', 'metadata'],
    ['http://[::ffff:a9fe:a9fe]/', 'metadata'],
  ]
  for (const [url, cls] of refusals) {
    test(`${url} is refused as ${cls}`, async () => {
      const err = await vetUrl(new URL(url), false, dns).catch((e) => e)
      expect(err).toBeInstanceOf(TargetRefusedError)
      expect(err).toMatchObject({ kind: 'blocked', addressClass: cls })
    })
  }

  test('a host that does not resolve is a dns refusal', async () => {
    const err = await vetUrl(new URL('http://nowhere.example.com/'), false, dns).catch((e) => e)
    expect(err).toMatchObject({ kind: 'dns' })
    expect(err.message).toContain('ENOTFOUND')
  })

  test('MLC_WEBHOOK_ALLOW_PRIVATE lifts the refusal but still pins', async () => {
    const t = await vetUrl(new URL('http://internal.example.com/x'), true, dns)
    expect(t.pinnedUrl).toBe('http://192.168.1.20/x')
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
