/**
 * Segment membership: re-evaluates one visitor against every segment of the site (on identify and
 * track) or every visitor against one segment (on create and rule change). Entering records the
 * entry time; leaving deletes the membership, so a later re-entry gets a new `entered_utc`.
 */
import type { SegmentRow, VisitorRow } from '../../db/rows'
import type { Repositories } from '../../db/store'
import { matchesRule, type Rule, type RuleSubject } from './rule'

/** An event known to the caller, for a visitor whose events are all known (created in this transaction). */
export interface KnownEvent {
  name: string
  occurredMs: number
}

function subjectOf(store: Repositories, visitor: VisitorRow, nowMs: number, known?: KnownEvent[]): RuleSubject {
  let attrs: Record<string, unknown> | null = null
  return {
    nowMs,
    attribute(name) {
      if (name === 'email') return visitor.email ?? undefined
      if (name === 'name') return visitor.name ?? undefined
      attrs ??= JSON.parse(visitor.attributes) as Record<string, unknown>
      return Object.hasOwn(attrs, name) ? attrs[name] : undefined
    },
    countEvents: (event, sinceMs, cap) =>
      known ? known.filter((e) => e.name === event && e.occurredMs >= sinceMs).length : store.visitorEvents.count(visitor.id, event, sinceMs, cap),
  }
}

const parsedRules = new Map<string, Rule>()

/** The parsed form of a stored rule, cached by its text: the same few rules are read on every track. */
function ruleOf(text: string): Rule {
  let rule = parsedRules.get(text)
  if (!rule) {
    if (parsedRules.size >= 1000) parsedRules.clear()
    rule = JSON.parse(text) as Rule
    parsedRules.set(text, rule)
  }
  return rule
}

/**
 * Re-evaluates one visitor against all the site's segments (call inside the write transaction,
 * with its `tx`). `created`: the visitor was created in this transaction with exactly these
 * events, so it is in no segment yet and its event counts need no query (a first page view is
 * the common case).
 */
export async function evaluateVisitor(tx: Repositories, visitor: VisitorRow, nowMs: number, created?: { events: KnownEvent[] }): Promise<void> {
  const segments = await tx.segments.listCached(visitor.site_id)
  if (segments.length === 0) return
  const current = new Set(created ? [] : await tx.segments.segmentIdsOf(visitor.id))
  const subject = subjectOf(tx, visitor, nowMs, created?.events)
  for (const s of segments) {
    let matches = matchesRule(ruleOf(s.rule), subject)
    if (typeof matches !== 'boolean') matches = await matches
    if (matches && !current.has(s.id)) await tx.segments.addMember(s.id, visitor.id, nowMs)
    else if (!matches && current.has(s.id)) await tx.segments.removeMember(s.id, visitor.id)
  }
}

/** Re-evaluates every visitor of the site against one segment (call inside the write transaction, with its `tx`). */
export async function evaluateSegment(tx: Repositories, segment: SegmentRow, nowMs: number): Promise<void> {
  const rule = ruleOf(segment.rule)
  const current = new Set(await tx.segments.memberIds(segment.id))
  for (const id of await tx.visitors.allIds(segment.site_id)) {
    const visitor = await tx.visitors.byId(segment.site_id, id)
    if (!visitor) continue
    let matches = matchesRule(rule, subjectOf(tx, visitor, nowMs))
    if (typeof matches !== 'boolean') matches = await matches
    if (matches && !current.has(id)) await tx.segments.addMember(segment.id, id, nowMs)
    else if (!matches && current.has(id)) await tx.segments.removeMember(segment.id, id)
  }
}
