/** segments: CRUD, rule validation naming the path, membership on identify/track/rule change, entered_utc. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { openStore } from '../../src/db/open-store'
import { createSegment, deleteSegment } from '../../src/modules/segments/service'
import { createTestApp, expectError, type TestApp } from '../helpers'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp({})
})
afterAll(() => t.cleanup())

const DAY = 86_400_000
const keysOf = (r: { body: any }) => r.body.data.map((v: { key: string }) => v.key).sort()

async function fresh(): Promise<TestApp> {
  return createTestApp()
}

describe('segments: CRUD', () => {
  test('POST answers 201 with { id, name, rule, member_count }; GET, PATCH, DELETE', async () => {
    const c = await t.call('POST', '/v1/segments', { body: { name: 'Pro', rule: { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }] } } })
    expect(c.status).toBe(201)
    const id = c.body.data.id
    expect(typeof id).toBe('number')
    expect(c.body.data).toMatchObject({ name: 'Pro', rule: { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }] }, member_count: 0 })
    const got = await t.call('GET', `/v1/segments/${id}`, { token: t.readToken })
    expect(got.body).toMatchObject({ ok: true, data: { name: 'Pro' } })
    expect((await t.call('GET', '/v1/api.ashx?resource=segments', { token: t.readToken })).body.data.map((s: { id: number }) => s.id)).toContain(id)
    const p = await t.call('PATCH', `/v1/api.ashx?resource=segments&id=${id}`, { body: { name: 'Pro plan' } })
    expect(p.body.data.name).toBe('Pro plan')
    expect((await t.call('DELETE', `/v1/segments/${id}`)).body.data).toEqual({ id, deleted: true })
    expectError(await t.call('GET', `/v1/segments/${id}`), 404, 'not_found', 'id')
  })

  test('duplicate names are a 409; read tokens get 403 on writes; other sites see 404', async () => {
    const rule = { any: [{ attribute: 'email', op: 'exists' }] }
    const c = await t.call('POST', '/v1/segments', { body: { name: 'Has email', rule } })
    expectError(await t.call('POST', '/v1/segments', { body: { name: 'Has email', rule } }), 409, 'conflict', 'name')
    expectError(await t.call('POST', '/v1/segments', { token: t.readToken, body: { name: 'x', rule } }), 403, 'forbidden')
    expectError(await t.call('GET', `/v1/segments/${c.body.data.id}`, { token: t.otherSiteToken }), 404, 'not_found', 'id')
    expectError(await t.call('PATCH', `/v1/segments/${c.body.data.id}`, { token: t.otherSiteToken, body: { name: 'mine now' } }), 404, 'not_found', 'id')
    expectError(await t.call('DELETE', `/v1/segments/${c.body.data.id}`, { token: t.otherSiteToken }), 404, 'not_found', 'id')
    const theirs = await t.call('GET', '/v1/segments', { token: t.otherSiteToken })
    expect(theirs.body.data.some((s: { id: number }) => s.id === c.body.data.id)).toBe(false)
  })
})

describe('segments: invalid rules are a 400 that says where', () => {
  const cases: [string, unknown, string][] = [
    ['rule missing', undefined, 'rule'],
    ['rule not a group', { attribute: 'plan', op: 'exists' }, 'rule'],
    ['rule an array', [], 'rule'],
    ['all empty', { all: [] }, 'rule.all'],
    ['all and any together', { all: [{ attribute: 'a', op: 'exists' }], any: [] }, 'rule'],
    ['unknown op', { all: [{ attribute: 'plan', op: 'equals', value: 1 }] }, 'rule.all.0.op'],
    [
      'second condition bad',
      {
        all: [
          { attribute: 'plan', op: 'exists' },
          { attribute: '', op: 'exists' },
        ],
      },
      'rule.all.1.attribute',
    ],
    [
      'nested bad op',
      {
        any: [
          {
            all: [
              { attribute: 'plan', op: 'eq', value: 'x' },
              { attribute: 'seats', op: 'gt' },
            ],
          },
        ],
      },
      'rule.any.0.all.1.value',
    ],
    ['eq with an object', { all: [{ attribute: 'plan', op: 'eq', value: { x: 1 } }] }, 'rule.all.0.value'],
    ['in with empty list', { all: [{ attribute: 'plan', op: 'in', value: [] }] }, 'rule.all.0.value'],
    ['exists with a value', { all: [{ attribute: 'plan', op: 'exists', value: 1 }] }, 'rule.all.0.value'],
    ['gt with a boolean', { all: [{ attribute: 'seats', op: 'gt', value: true }] }, 'rule.all.0.value'],
    ['neither attribute nor event', { all: [{ foo: 1 }] }, 'rule.all.0'],
    ['condition not an object', { all: ['plan = pro'] }, 'rule.all.0'],
    ['unknown field in condition', { all: [{ attribute: 'plan', op: 'exists', negate: true }] }, 'rule.all.0.negate'],
    ['event name empty', { all: [{ event: '' }] }, 'rule.all.0.event'],
    ['event count op unknown', { all: [{ event: 'x', count: { atleast: 3 } }] }, 'rule.all.0.count.atleast'],
    ['event count negative', { all: [{ event: 'x', count: { gte: -1 } }] }, 'rule.all.0.count.gte'],
    ['event count empty', { all: [{ event: 'x', count: {} }] }, 'rule.all.0.count'],
    ['within_days zero', { all: [{ event: 'x', within_days: 0 }] }, 'rule.all.0.within_days'],
    ['within_days fractional', { all: [{ event: 'x', within_days: 1.5 }] }, 'rule.all.0.within_days'],
    ['too deep', { all: [{ all: [{ all: [{ all: [{ all: [{ all: [{ attribute: 'a', op: 'exists' }] }] }] }] }] }] }, 'rule.all.0.all.0.all.0.all.0.all.0'],
    ['too many conditions', { any: Array.from({ length: 51 }, () => ({ attribute: 'a', op: 'exists' })) }, 'rule.any.50'],
  ]
  for (const [label, rule, param] of cases) {
    test(`${label}: param ${param}`, async () => {
      const r = await t.call('POST', '/v1/segments', { body: { name: `bad ${label}`, ...(rule === undefined ? {} : { rule }) } })
      expectError(r, 400, 'bad_request', param)
      expect(r.body.error.message.startsWith(param)).toBe(true)
    })
  }

  test('PATCH with an invalid rule is a 400 too and leaves the rule as it was', async () => {
    const rule = { all: [{ attribute: 'plan', op: 'exists' }] }
    const c = await t.call('POST', '/v1/segments', { body: { name: 'stable', rule } })
    expectError(
      await t.call('PATCH', `/v1/segments/${c.body.data.id}`, { body: { rule: { all: [{ attribute: 'plan', op: 'nope' }] } } }),
      400,
      'bad_request',
      'rule.all.0.op',
    )
    expect((await t.call('GET', `/v1/segments/${c.body.data.id}`)).body.data.rule).toEqual(rule)
  })

  test('name empty or too long is a 400 naming name', async () => {
    const rule = { all: [{ attribute: 'plan', op: 'exists' }] }
    expectError(await t.call('POST', '/v1/segments', { body: { name: '  ', rule } }), 400, 'bad_request', 'name')
    expectError(await t.call('POST', '/v1/segments', { body: { name: 'n'.repeat(101), rule } }), 400, 'bad_request', 'name')
  })
})

describe('segments: membership', () => {
  test('creating a segment evaluates every existing visitor; entered_utc is the creation time', async () => {
    const a = await fresh()
    try {
      await a.call('POST', '/v1/visitors', { body: { key: 'p1', plan: 'pro' } })
      await a.call('POST', '/v1/visitors', { body: { key: 'p2', plan: 'pro' } })
      await a.call('POST', '/v1/visitors', { body: { key: 'f1', plan: 'free' } })
      a.clock.advance(10_000)
      const s = await a.call('POST', '/v1/segments', { body: { name: 'pro', rule: { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }] } } })
      expect(s.body.data.member_count).toBe(2)
      expect(keysOf(await a.call('GET', `/v1/visitors?segment=${s.body.data.id}`))).toEqual(['p1', 'p2'])
      const v = await a.call('GET', '/v1/visitors?key=p1')
      expect(v.body.data.segments).toEqual([{ id: s.body.data.id, name: 'pro', entered_utc: new Date(a.clock.now()).toISOString() }])
    } finally {
      await a.cleanup()
    }
  })

  test('identify moves a visitor in and out; re-entry records a new entered_utc', async () => {
    const a = await fresh()
    try {
      const s = await a.call('POST', '/v1/segments', { body: { name: 'pro', rule: { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }] } } })
      const id = s.body.data.id
      const r1 = await a.call('POST', '/v1/visitors', { body: { key: 'u', plan: 'pro' } })
      expect(r1.body.data.segments).toEqual([{ id, name: 'pro', entered_utc: new Date(a.clock.now()).toISOString() }])
      a.clock.advance(1000)
      const r2 = await a.call('POST', '/v1/visitors', { body: { key: 'u', email: 'u@example.com' } })
      expect(r2.body.data.segments[0].entered_utc).toBe(r1.body.data.segments[0].entered_utc)
      const out = await a.call('POST', '/v1/visitors', { body: { key: 'u', plan: null } })
      expect(out.body.data.segments).toEqual([])
      a.clock.advance(5000)
      const back = await a.call('POST', '/v1/visitors', { body: { key: 'u', plan: 'pro' } })
      expect(back.body.data.segments[0].entered_utc).toBe(new Date(a.clock.now()).toISOString())
      expect((await a.call('GET', `/v1/segments/${id}`)).body.data.member_count).toBe(1)
    } finally {
      await a.cleanup()
    }
  })

  test('track enters an event segment before the response returns (count and within_days)', async () => {
    const a = await fresh()
    try {
      const s = await a.call('POST', '/v1/segments', {
        body: { name: 'pricing x3 this week', rule: { all: [{ event: 'viewed_pricing', count: { gte: 3 }, within_days: 7 }] } },
      })
      const id = s.body.data.id
      await a.call('POST', '/v1/track', { body: { key: 'k', name: 'viewed_pricing', timestamp: new Date(a.clock.now() - 8 * DAY).toISOString() } })
      await a.call('POST', '/v1/track', { body: { key: 'k', name: 'viewed_pricing' } })
      await a.call('POST', '/v1/track', { body: { key: 'k', name: 'viewed_docs' } })
      expect((await a.call('GET', '/v1/visitors?key=k')).body.data.segments).toEqual([])
      await a.call('POST', '/v1/track', { body: { key: 'k', name: 'viewed_pricing' } })
      const third = await a.call('POST', '/v1/track', { body: { key: 'k', name: 'viewed_pricing' } })
      expect(third.status).toBe(201)
      const v = await a.call('GET', '/v1/visitors?key=k')
      expect(v.body.data.segments.map((m: { id: number }) => m.id)).toEqual([id])
    } finally {
      await a.cleanup()
    }
  })

  test("a brand-new visitor's first event counts at once; a backdated one outside within_days does not", async () => {
    const a = await fresh()
    try {
      const s = await a.call('POST', '/v1/segments', { body: { name: 'signed up this week', rule: { all: [{ event: 'signed_up', within_days: 7 }] } } })
      const id = s.body.data.id
      await a.call('POST', '/v1/track', { body: { key: 'first', name: 'signed_up' } })
      await a.call('POST', '/v1/track', { body: { key: 'old', name: 'signed_up', timestamp: new Date(a.clock.now() - 8 * DAY).toISOString() } })
      await a.call('POST', '/v1/track', { body: { key: 'other', name: 'viewed_docs' } })
      expect(keysOf(await a.call('GET', `/v1/visitors?segment=${id}`))).toEqual(['first'])
    } finally {
      await a.cleanup()
    }
  })

  test('a rule change re-evaluates every visitor: some leave, some enter', async () => {
    const a = await fresh()
    try {
      await a.call('POST', '/v1/visitors', { body: { key: 'small', seats: 2 } })
      await a.call('POST', '/v1/visitors', { body: { key: 'mid', seats: 10 } })
      await a.call('POST', '/v1/visitors', { body: { key: 'big', seats: 50 } })
      const s = await a.call('POST', '/v1/segments', { body: { name: 'big', rule: { all: [{ attribute: 'seats', op: 'gte', value: 50 }] } } })
      const id = s.body.data.id
      expect(keysOf(await a.call('GET', `/v1/visitors?segment=${id}`))).toEqual(['big'])
      a.clock.advance(1000)
      const p = await a.call('PATCH', `/v1/segments/${id}`, {
        body: {
          rule: {
            all: [
              { attribute: 'seats', op: 'gt', value: 5 },
              { attribute: 'seats', op: 'lt', value: 50 },
            ],
          },
        },
      })
      expect(p.body.data.member_count).toBe(1)
      expect(keysOf(await a.call('GET', `/v1/visitors?segment=${id}`))).toEqual(['mid'])
      const mid = await a.call('GET', '/v1/visitors?key=mid')
      expect(mid.body.data.segments[0].entered_utc).toBe(new Date(a.clock.now()).toISOString())
    } finally {
      await a.cleanup()
    }
  })

  test('a segment created or deleted through another connection (another process) is seen by the next track', async () => {
    const a = await fresh()
    const other = await openStore(a.config)
    try {
      await a.call('POST', '/v1/track', { body: { key: 'v', name: 'warm_up' } })
      const seg = await createSegment(other, a.clock, a.site1, { name: 'from elsewhere', rule: { all: [{ event: 'clicked' }] } })
      await Bun.sleep(10) // other connections' writes are seen within 5 ms
      await a.call('POST', '/v1/track', { body: { key: 'v', name: 'clicked' } })
      expect((await a.call('GET', '/v1/visitors?key=v')).body.data.segments.map((m: { id: number }) => m.id)).toEqual([seg.id])
      await deleteSegment(other, a.site1, seg.id)
      await Bun.sleep(10)
      const t2 = await a.call('POST', '/v1/track', { body: { key: 'w', name: 'clicked' } })
      expect(t2.status).toBe(201)
      expect((await a.call('GET', '/v1/visitors?key=w')).body.data.segments).toEqual([])
    } finally {
      await other.close()
      await a.cleanup()
    }
  })

  test('a segment write that fails leaves no trace in what track evaluates', async () => {
    const a = await fresh()
    try {
      await a.call('POST', '/v1/segments', { body: { name: 'taken', rule: { all: [{ event: 'x' }] } } })
      const s2 = await a.call('POST', '/v1/segments', { body: { name: 'other', rule: { all: [{ event: 'y' }] } } })
      expectError(
        await a.call('PATCH', `/v1/segments/${s2.body.data.id}`, { body: { name: 'taken', rule: { all: [{ event: 'z' }] } } }),
        409,
        'conflict',
        'name',
      )
      await a.call('POST', '/v1/track', { body: { key: 'q', name: 'z' } })
      expect((await a.call('GET', '/v1/visitors?key=q')).body.data.segments).toEqual([])
    } finally {
      await a.cleanup()
    }
  })

  test('deleting a segment removes it from visitors', async () => {
    const a = await fresh()
    try {
      await a.call('POST', '/v1/visitors', { body: { key: 'x', email: 'x@example.com' } })
      const s = await a.call('POST', '/v1/segments', { body: { name: 'emails', rule: { all: [{ attribute: 'email', op: 'exists' }] } } })
      expect((await a.call('GET', '/v1/visitors?key=x')).body.data.segments).toHaveLength(1)
      await a.call('DELETE', `/v1/segments/${s.body.data.id}`)
      expect((await a.call('GET', '/v1/visitors?key=x')).body.data.segments).toEqual([])
    } finally {
      await a.cleanup()
    }
  })

  test("one site's segment never takes in another site's visitors", async () => {
    const a = await fresh()
    try {
      await a.call('POST', '/v1/visitors', { token: a.otherSiteToken, body: { key: 'theirs', plan: 'pro' } })
      const s = await a.call('POST', '/v1/segments', { body: { name: 'pro', rule: { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }] } } })
      expect(s.body.data.member_count).toBe(0)
      await a.call('POST', '/v1/visitors', { token: a.otherSiteToken, body: { key: 'theirs', plan: 'pro', seats: 1 } })
      expect((await a.call('GET', `/v1/segments/${s.body.data.id}`)).body.data.member_count).toBe(0)
    } finally {
      await a.cleanup()
    }
  })
})

describe('segments: operators', () => {
  const visitor = {
    key: 'ops',
    email: 'Jay@Example.com',
    name: 'Jay',
    plan: 'growth',
    seats: 12,
    beta: true,
    roles: ['admin', 'billing'],
    signup: '2026-03-01',
  }
  const cases: [string, unknown, boolean][] = [
    ['eq string', { attribute: 'plan', op: 'eq', value: 'growth' }, true],
    ['eq number', { attribute: 'seats', op: 'eq', value: 12 }, true],
    ['eq boolean', { attribute: 'beta', op: 'eq', value: true }, true],
    ['eq on an array attribute means includes', { attribute: 'roles', op: 'eq', value: 'admin' }, true],
    ['eq null matches a missing attribute', { attribute: 'company', op: 'eq', value: null }, true],
    ['eq wrong type', { attribute: 'seats', op: 'eq', value: '12' }, false],
    ['neq', { attribute: 'plan', op: 'neq', value: 'free' }, true],
    ['neq of a missing attribute', { attribute: 'company', op: 'neq', value: 'acme' }, true],
    ['in', { attribute: 'plan', op: 'in', value: ['starter', 'growth'] }, true],
    ['in (array attribute overlaps)', { attribute: 'roles', op: 'in', value: ['owner', 'billing'] }, true],
    ['in miss', { attribute: 'plan', op: 'in', value: ['free'] }, false],
    ['exists', { attribute: 'plan', op: 'exists' }, true],
    ['exists (email counts as an attribute)', { attribute: 'email', op: 'exists' }, true],
    ['not_exists', { attribute: 'company', op: 'not_exists' }, true],
    ['gt', { attribute: 'seats', op: 'gt', value: 11 }, true],
    ['gte', { attribute: 'seats', op: 'gte', value: 12 }, true],
    ['lt', { attribute: 'seats', op: 'lt', value: 12 }, false],
    ['lte', { attribute: 'seats', op: 'lte', value: 12 }, true],
    ['gt on a missing attribute', { attribute: 'company', op: 'gt', value: 1 }, false],
    ['lt on ISO dates as text', { attribute: 'signup', op: 'lt', value: '2026-06-01' }, true],
    ['contains, case-insensitive', { attribute: 'email', op: 'contains', value: '@example.COM' }, true],
    ['contains on name', { attribute: 'name', op: 'contains', value: 'ay' }, true],
    ['contains on an array attribute', { attribute: 'roles', op: 'contains', value: 'billing' }, true],
    ['contains miss', { attribute: 'plan', op: 'contains', value: 'free' }, false],
    ['event never happened: count eq 0', { event: 'churned', count: { eq: 0 } }, true],
    ['event default count is at least once', { event: 'churned' }, false],
    [
      'any of (one true)',
      {
        any: [
          { attribute: 'plan', op: 'eq', value: 'free' },
          { attribute: 'beta', op: 'eq', value: true },
        ],
      },
      true,
    ],
    [
      'all of (one false)',
      {
        all: [
          { attribute: 'plan', op: 'eq', value: 'growth' },
          { attribute: 'beta', op: 'eq', value: false },
        ],
      },
      false,
    ],
  ]
  test('each operator, against one visitor', async () => {
    const a = await fresh()
    try {
      await a.call('POST', '/v1/visitors', { body: visitor })
      const outcomes: Record<string, boolean> = {}
      for (const [label, condition] of cases) {
        const s = await a.call('POST', '/v1/segments', { body: { name: label, rule: { all: [condition] } } })
        expect(s.status).toBe(201)
        outcomes[label] = s.body.data.member_count === 1
      }
      expect(outcomes).toEqual(Object.fromEntries(cases.map(([label, , want]) => [label, want])))
    } finally {
      await a.cleanup()
    }
  })
})
