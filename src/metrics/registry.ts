/**
 * A small Prometheus metrics registry: counters, gauges read at scrape time, and histograms,
 * rendered in the text exposition format 0.0.4. Everything lives in memory; recording a value
 * is a map lookup and an add, so the request path can afford it. Label values are looked up in
 * nested maps (one level per label) rather than joined into a key string, to avoid allocating.
 *
 * Callers keep label cardinality bounded: label values come from fixed sets (resources the app
 * serves, status codes, outcomes), never from user input.
 */

type LabelValue = string | number

/** Latency buckets in seconds: sub-millisecond API calls up to slow webhook receivers. */
export const DEFAULT_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

interface Metric {
  readonly name: string
  /** Appends the metric's lines; `constant` (`instance="a:8080"` or '') joins every series' labels. */
  render(out: string[], constant?: string): void
}

/** Escapes a label value per the exposition format (backslash, quote, newline). */
function escapeLabel(v: LabelValue): string {
  return String(v).replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))
}

/** `{a="x",b="y"}` for the given names and values, then the ready-made extras ('' when there are none). */
function labelSet(names: readonly string[], values: readonly LabelValue[], ...extras: (string | undefined)[]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`)
  for (const extra of extras) if (extra) parts.push(extra)
  return parts.length ? `{${parts.join(',')}}` : ''
}

/** Formats a sample value; Prometheus spells infinities +Inf/-Inf. */
function num(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '+Inf'
  if (v === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(v)
}

/** Children keyed by their label values in nested maps, in insertion order for stable output. */
class LabelTree<T> {
  private readonly root = new Map<LabelValue, unknown>()
  private readonly leaves: { values: LabelValue[]; child: T }[] = []

  constructor(
    private readonly depth: number,
    private readonly make: () => T,
  ) {}

  /** The child for these label values, created on first use. */
  get(values: readonly LabelValue[]): T {
    if (values.length !== this.depth) throw new Error(`expected ${this.depth} label values, got ${values.length}`)
    if (this.depth === 0) {
      if (this.leaves.length === 0) this.leaves.push({ values: [], child: this.make() })
      return (this.leaves[0] as { child: T }).child
    }
    let node = this.root
    for (let i = 0; i < this.depth - 1; i++) {
      const v = values[i] as LabelValue
      let next = node.get(v) as Map<LabelValue, unknown> | undefined
      if (!next) {
        next = new Map()
        node.set(v, next)
      }
      node = next
    }
    const last = values[this.depth - 1] as LabelValue
    let child = node.get(last) as T | undefined
    if (child === undefined) {
      child = this.make()
      node.set(last, child)
      this.leaves.push({ values: [...values], child })
    }
    return child
  }

  /** Every child with its label values. */
  all(): readonly { values: LabelValue[]; child: T }[] {
    return this.leaves
  }
}

/** A monotonically increasing count, optionally split by labels. */
export class Counter implements Metric {
  private readonly tree: LabelTree<{ value: number }>

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {
    this.tree = new LabelTree(labelNames.length, () => ({ value: 0 }))
  }

  /** Adds `by` (default 1) to the series with these label values. */
  inc(values: readonly LabelValue[] = [], by = 1): void {
    this.tree.get(values).value += by
  }

  /** The current value of one series (0 when never incremented). */
  get(values: readonly LabelValue[] = []): number {
    return this.tree.get(values).value
  }

  render(out: string[], constant?: string): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`)
    for (const { values, child } of this.tree.all()) out.push(`${this.name}${labelSet(this.labelNames, values, constant)} ${num(child.value)}`)
  }
}

/** A value read when scraped, from a callback returning one sample per label set. */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly read: () => { labels?: LabelValue[]; value: number }[],
  ) {}

  render(out: string[], constant?: string): void {
    let samples: { labels?: LabelValue[]; value: number }[]
    try {
      samples = this.read()
    } catch {
      // A source that cannot answer (database locked) drops its samples from this scrape only.
      return
    }
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`)
    for (const s of samples) out.push(`${this.name}${labelSet(this.labelNames, s.labels ?? [], constant)} ${num(s.value)}`)
  }
}

interface HistogramChild {
  counts: Float64Array
  sum: number
  count: number
}

/** Observations counted into fixed buckets (cumulative on output), with sum and count. */
export class Histogram implements Metric {
  private readonly tree: LabelTree<HistogramChild>

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
    readonly buckets: readonly number[] = DEFAULT_SECONDS_BUCKETS,
  ) {
    this.tree = new LabelTree(labelNames.length, () => ({ counts: new Float64Array(buckets.length), sum: 0, count: 0 }))
  }

  /** Records one observation for the series with these label values. */
  observe(values: readonly LabelValue[], v: number): void {
    const c = this.tree.get(values)
    const b = this.buckets
    for (let i = 0; i < b.length; i++) {
      if (v <= (b[i] as number)) {
        ;(c.counts[i] as number)++
        break
      }
    }
    c.sum += v
    c.count++
  }

  /** Count and sum of one series. */
  get(values: readonly LabelValue[] = []): { count: number; sum: number } {
    const c = this.tree.get(values)
    return { count: c.count, sum: c.sum }
  }

  render(out: string[], constant?: string): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`)
    for (const { values, child } of this.tree.all()) {
      let cumulative = 0
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += child.counts[i] as number
        out.push(`${this.name}_bucket${labelSet(this.labelNames, values, constant, `le="${num(this.buckets[i] as number)}"`)} ${cumulative}`)
      }
      out.push(`${this.name}_bucket${labelSet(this.labelNames, values, constant, 'le="+Inf"')} ${child.count}`)
      out.push(`${this.name}_sum${labelSet(this.labelNames, values, constant)} ${num(child.sum)}`)
      out.push(`${this.name}_count${labelSet(this.labelNames, values, constant)} ${child.count}`)
    }
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/** A set of metrics rendered together. One per app, so tests never share counts. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>()
  private readonly refreshers: (() => Promise<void>)[] = []
  /** `instance="..."`, added to every series when set (several instances scraped behind one name). */
  private instanceLabel = ''

  /**
   * Labels every series with `instance="<id>"` from now on ('' removes it). Set once the server
   * knows its port; recording is untouched (the label is added when rendering).
   */
  setInstance(id: string): void {
    this.instanceLabel = id ? `instance="${escapeLabel(id)}"` : ''
  }

  private add<M extends Metric>(metric: M, labelNames: readonly string[]): M {
    if (!NAME.test(metric.name)) throw new Error(`invalid metric name ${metric.name}`)
    for (const l of labelNames) if (!NAME.test(l) || l.startsWith('__') || l === 'le') throw new Error(`invalid label name ${l}`)
    const existing = this.metrics.get(metric.name)
    if (existing) {
      // Registering twice (two modules asking for the same series) returns the first one.
      if (existing.constructor !== metric.constructor) throw new Error(`metric ${metric.name} registered with another type`)
      return existing as M
    }
    this.metrics.set(metric.name, metric)
    return metric
  }

  /** A counter (`*_total` by convention). */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames), labelNames)
  }

  /** A gauge whose samples `read` returns at scrape time. */
  gauge(name: string, help: string, labelNames: readonly string[], read: () => { labels?: LabelValue[]; value: number }[]): Gauge {
    return this.add(new Gauge(name, help, labelNames, read), labelNames)
  }

  /** A histogram; buckets default to latency seconds. */
  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets: readonly number[] = DEFAULT_SECONDS_BUCKETS): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets), labelNames)
  }

  /** The registered metric named `name`, if any. */
  get(name: string): Metric | undefined {
    return this.metrics.get(name)
  }

  /**
   * Registers a read to run before each `collect()`: a gauge whose source answers a promise (the
   * database) reads the value this stored, since rendering is synchronous. It handles its own errors.
   */
  beforeCollect(refresh: () => Promise<void>): void {
    this.refreshers.push(refresh)
  }

  /** Runs the `beforeCollect` reads, then renders: what a scrape answers. */
  async collect(): Promise<string> {
    if (this.refreshers.length) await Promise.all(this.refreshers.map((refresh) => refresh()))
    return this.render()
  }

  /** Every metric in the Prometheus text format (ends with a newline), from the values held now. */
  render(): string {
    const out: string[] = []
    for (const m of this.metrics.values()) m.render(out, this.instanceLabel)
    return `${out.join('\n')}\n`
  }
}

/** Content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
