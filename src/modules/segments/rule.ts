/**
 * Segment rules: validation (with the path of the first problem, so a 400 says where in the rule
 * it is) and evaluation against one visitor.
 */
import { BadRequestError } from '../../errors'

export const ATTRIBUTE_OPS = ['eq', 'neq', 'in', 'exists', 'not_exists', 'gt', 'gte', 'lt', 'lte', 'contains'] as const
export type AttributeOp = (typeof ATTRIBUTE_OPS)[number]
export const COUNT_OPS = ['eq', 'gt', 'gte', 'lt', 'lte'] as const
type CountOp = (typeof COUNT_OPS)[number]

type Scalar = string | number | boolean | null
export interface AttributeCondition {
  attribute: string
  op: AttributeOp
  value?: Scalar | Scalar[]
}
export interface EventCondition {
  event: string
  count?: Partial<Record<CountOp, number>>
  within_days?: number
}
export type Rule = { all: Condition[] } | { any: Condition[] }
export type Condition = Rule | AttributeCondition | EventCondition

/** Limits that keep one rule cheap to evaluate on every track call. */
export const RULE_LIMITS = { depth: 5, conditions: 50, withinDaysMax: 3650 }

const DAY_MS = 86_400_000

/**
 * What evaluating a rule needs to know about one visitor. Counting events may need a query (a
 * promise); attributes and counts known in memory answer at once.
 */
export interface RuleSubject {
  /** The attribute's value (`email`, `name` or a custom one), undefined when absent. */
  attribute(name: string): unknown
  /** How many `event` events the visitor has at or after `sinceMs`; may stop counting at `cap`. */
  countEvents(event: string, sinceMs: number, cap: number): number | Promise<number>
  nowMs: number
}

function fail(path: string, message: string): never {
  throw new BadRequestError(`${path}: ${message}`, path)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
}

function checkKeys(node: Record<string, unknown>, allowed: string[], path: string): void {
  for (const k of Object.keys(node)) if (!allowed.includes(k)) fail(`${path}.${k}`, `unknown field; allowed here: ${allowed.join(', ')}`)
}

function checkAttribute(node: Record<string, unknown>, path: string): void {
  checkKeys(node, ['attribute', 'op', 'value'], path)
  if (typeof node.attribute !== 'string' || node.attribute.length < 1 || node.attribute.length > 64) {
    fail(`${path}.attribute`, 'must be an attribute name of 1-64 characters')
  }
  if (typeof node.op !== 'string' || !(ATTRIBUTE_OPS as readonly string[]).includes(node.op)) {
    fail(`${path}.op`, `must be one of ${ATTRIBUTE_OPS.join(', ')}`)
  }
  const op = node.op as AttributeOp
  const v = node.value
  if (op === 'exists' || op === 'not_exists') {
    if (v !== undefined) fail(`${path}.value`, `${op} takes no value`)
  } else if (op === 'in') {
    if (!Array.isArray(v) || v.length === 0 || v.length > 100 || !v.every(isScalar)) {
      fail(`${path}.value`, 'in needs an array of 1-100 strings, numbers or booleans')
    }
  } else if (op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte') {
    if (!((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string')) fail(`${path}.value`, `${op} needs a number (or a string, compared as text)`)
  } else if (op === 'contains') {
    if (!isScalar(v) || v === null) fail(`${path}.value`, 'contains needs a string, number or boolean')
  } else if (v === undefined || !isScalar(v)) {
    fail(`${path}.value`, `${op} needs a string, number, boolean or null`)
  }
}

function checkEvent(node: Record<string, unknown>, path: string): void {
  checkKeys(node, ['event', 'count', 'within_days'], path)
  if (typeof node.event !== 'string' || node.event.length < 1 || node.event.length > 128) fail(`${path}.event`, 'must be an event name of 1-128 characters')
  if (node.count !== undefined) {
    if (!isObject(node.count) || Object.keys(node.count).length === 0) fail(`${path}.count`, `must be an object like {"gte": 3} using ${COUNT_OPS.join(', ')}`)
    for (const [op, n] of Object.entries(node.count)) {
      if (!(COUNT_OPS as readonly string[]).includes(op)) fail(`${path}.count.${op}`, `unknown comparison; use ${COUNT_OPS.join(', ')}`)
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) fail(`${path}.count.${op}`, 'must be a non-negative integer')
    }
  }
  if (node.within_days !== undefined) {
    const d = node.within_days
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > RULE_LIMITS.withinDaysMax) {
      fail(`${path}.within_days`, `must be an integer from 1 to ${RULE_LIMITS.withinDaysMax}`)
    }
  }
}

function checkNode(node: unknown, path: string, depth: number, budget: { left: number }): void {
  if (!isObject(node)) fail(path, 'must be an object: a group {"all": [...]} / {"any": [...]}, an attribute or an event condition')
  if (--budget.left < 0) fail(path, `a rule may hold at most ${RULE_LIMITS.conditions} conditions`)
  if ('all' in node || 'any' in node) {
    checkGroup(node, path, depth, budget)
  } else if ('attribute' in node) {
    checkAttribute(node, path)
  } else if ('event' in node) {
    checkEvent(node, path)
  } else {
    fail(path, 'must have "all", "any", "attribute" or "event"')
  }
}

function checkGroup(node: Record<string, unknown>, path: string, depth: number, budget: { left: number }): void {
  if ('all' in node && 'any' in node) fail(path, 'a group has either "all" or "any", not both')
  const kind = 'all' in node ? 'all' : 'any'
  checkKeys(node, [kind], path)
  if (depth > RULE_LIMITS.depth) fail(path, `groups nest at most ${RULE_LIMITS.depth} deep`)
  const items = node[kind]
  if (!Array.isArray(items) || items.length === 0) fail(`${path}.${kind}`, 'must be a non-empty array of conditions')
  items.forEach((item, i) => {
    checkNode(item, `${path}.${kind}.${i}`, depth + 1, budget)
  })
}

/** Validates a rule; throws a 400 whose `param` is the path of the problem (`rule.all.1.op`). */
export function validateRule(rule: unknown, path = 'rule'): Rule {
  if (!isObject(rule) || !('all' in rule || 'any' in rule)) fail(path, 'must be {"all": [...]} or {"any": [...]}')
  checkGroup(rule, path, 1, { left: RULE_LIMITS.conditions })
  return rule as Rule
}

function compare(a: unknown, b: unknown): number | null {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  return null
}

function matchesAttribute(c: AttributeCondition, actual: unknown): boolean {
  const present = actual !== undefined && actual !== null
  const values = Array.isArray(actual) ? actual : [actual]
  switch (c.op) {
    case 'exists':
      return present
    case 'not_exists':
      return !present
    case 'eq':
      return c.value === null ? !present : present && values.includes(c.value)
    case 'neq':
      return c.value === null ? present : !present || !values.includes(c.value)
    case 'in':
      return present && values.some((v) => (c.value as Scalar[]).includes(v as Scalar))
    case 'contains':
      if (typeof actual === 'string') return actual.toLowerCase().includes(String(c.value).toLowerCase())
      return Array.isArray(actual) && actual.includes(c.value)
    default: {
      if (!present) return false
      return values.some((v) => {
        const d = compare(v, c.value)
        if (d === null) return false
        return c.op === 'gt' ? d > 0 : c.op === 'gte' ? d >= 0 : c.op === 'lt' ? d < 0 : d <= 0
      })
    }
  }
}

function matchesEvent(c: EventCondition, subject: RuleSubject): boolean | Promise<boolean> {
  const since = c.within_days ? subject.nowMs - c.within_days * DAY_MS : Number.MIN_SAFE_INTEGER
  const count = c.count ?? { gte: 1 }
  // Every comparison is decided once the count passes its largest operand.
  const n = subject.countEvents(c.event, since, Math.max(...Object.values(count)) + 1)
  return typeof n === 'number' ? countMatches(count, n) : n.then((counted) => countMatches(count, counted))
}

function countMatches(count: Partial<Record<CountOp, number>>, n: number): boolean {
  for (const [op, want] of Object.entries(count) as [CountOp, number][]) {
    const okay = op === 'eq' ? n === want : op === 'gt' ? n > want : op === 'gte' ? n >= want : op === 'lt' ? n < want : n <= want
    if (!okay) return false
  }
  return true
}

/**
 * Whether a visitor matches a (validated) rule: a boolean when no event count needed a query, else
 * a promise of it. Conditions are tried in order and stop at the first that decides the group,
 * so no count is queried that the answer does not need.
 */
export function matchesRule(node: Condition, subject: RuleSubject): boolean | Promise<boolean> {
  if ('all' in node) return decides(node.all, subject, false, 0)
  if ('any' in node) return decides(node.any, subject, true, 0)
  if ('attribute' in node) return matchesAttribute(node, subject.attribute(node.attribute))
  return matchesEvent(node, subject)
}

/**
 * A group from condition `i` on: `any` (decisive = true) is true at the first match, `all`
 * (decisive = false) is false at the first miss; otherwise the group is `!decisive`.
 */
function decides(conditions: Condition[], subject: RuleSubject, decisive: boolean, i: number): boolean | Promise<boolean> {
  for (; i < conditions.length; i++) {
    const m = matchesRule(conditions[i] as Condition, subject)
    if (typeof m !== 'boolean') {
      const next = i + 1
      return m.then((matched) => (matched === decisive ? decisive : decides(conditions, subject, decisive, next)))
    }
    if (m === decisive) return decisive
  }
  return !decisive
}
