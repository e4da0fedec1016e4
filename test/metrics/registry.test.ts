/** The metrics registry: exposition format, counters, histograms, gauges, label safety, resource labels. */
import { describe, expect, test } from 'bun:test'
import { ResourceClassifier } from '../../src/metrics/platform'
import { MetricsRegistry } from '../../src/metrics/registry'

/** Sample lines of a rendered registry as name{labels} -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return out
}

describe('MetricsRegistry', () => {
  test('counters render HELP, TYPE and one line per label set', () => {
    const r = new MetricsRegistry()
    const c = r.counter('mlc_things_total', 'Things done.', ['kind', 'status'])
    c.inc(['a', 200])
    c.inc(['a', 200])
    c.inc(['b', 500], 3)
    const text = r.render()
    expect(text).toContain('# HELP mlc_things_total Things done.\n# TYPE mlc_things_total counter\n')
    const s = samples(text)
    expect(s.get('mlc_things_total{kind="a",status="200"}')).toBe(2)
    expect(s.get('mlc_things_total{kind="b",status="500"}')).toBe(3)
    expect(text.endsWith('\n')).toBe(true)
  })

  test('label values are escaped, so a quote or newline cannot break the format', () => {
    const r = new MetricsRegistry()
    r.counter('x_total', 'x', ['v']).inc(['a"b\\c\nd'])
    expect(r.render()).toContain('x_total{v="a\\"b\\\\c\\nd"} 1')
  })

  test('histograms are cumulative, with +Inf, sum and count', () => {
    const r = new MetricsRegistry()
    const h = r.histogram('lat_seconds', 'Latency.', ['route'], [0.01, 0.1, 1])
    for (const v of [0.005, 0.05, 0.05, 0.5, 5]) h.observe(['x'], v)
    const s = samples(r.render())
    expect(s.get('lat_seconds_bucket{route="x",le="0.01"}')).toBe(1)
    expect(s.get('lat_seconds_bucket{route="x",le="0.1"}')).toBe(3)
    expect(s.get('lat_seconds_bucket{route="x",le="1"}')).toBe(4)
    expect(s.get('lat_seconds_bucket{route="x",le="+Inf"}')).toBe(5)
    expect(s.get('lat_seconds_count{route="x"}')).toBe(5)
    expect(s.get('lat_seconds_sum{route="x"}')).toBeCloseTo(5.605, 6)
  })

  test('gauges are read at scrape time; a failing source drops only its own series', () => {
    const r = new MetricsRegistry()
    let depth = 3
    r.gauge('depth', 'Depth.', [], () => [{ value: depth }])
    r.gauge('broken', 'Broken.', [], () => {
      throw new Error('database is locked')
    })
    expect(samples(r.render()).get('depth')).toBe(3)
    depth = 7
    const text = r.render()
    expect(samples(text).get('depth')).toBe(7)
    expect(text).not.toContain('broken')
  })

  test('registering a name twice returns the first metric; another type or a bad name throws', () => {
    const r = new MetricsRegistry()
    const a = r.counter('same_total', 'x', ['l'])
    expect(r.counter('same_total', 'x', ['l'])).toBe(a)
    expect(() => r.histogram('same_total', 'x')).toThrow(/another type/)
    expect(() => r.counter('bad-name', 'x')).toThrow(/invalid metric name/)
    expect(() => r.counter('ok_total', 'x', ['le'])).toThrow(/invalid label/)
    expect(() => a.inc(['only', 'too many'])).toThrow(/label values/)
  })
})

describe('ResourceClassifier', () => {
  const routes = [{ path: '/healthz' }, { path: '/v1/tags' }, { path: '/v1/tags/:id' }, { path: '/v1/api.ashx' }]
  const c = new ResourceClassifier(() => routes, ['dashboard'])
  const cases: [string, string][] = [
    ['http://h/v1/tags', 'tags'],
    ['http://h/v1/tags/12?token=x', 'tags'],
    ['http://h:8080/v1/tags?x=1', 'tags'],
    ['http://h/healthz', 'healthz'],
    ['http://h/dashboard/sites/1', 'dashboard'],
    ['http://h/v1/api.ashx', 'api.ashx'],
    ['http://h/v1/wp-admin', 'unmatched'],
    ['http://h/.env', 'unmatched'],
    ['http://h/', 'root'],
  ]
  for (const [url, resource] of cases) test(`${url} -> ${resource}`, () => expect(c.classify(url)).toBe(resource))
})
