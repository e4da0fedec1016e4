/**
 * /dashboard/segments: segments with their member counts, and a rule editor: a form of condition
 * rows (attribute or event) for the common flat rule, or the rule as JSON for nested ones. The
 * form only maps fields to the API's rule shape; the segments service validates it (a 400 says
 * where in the rule the problem is) and evaluates membership.
 */
import { Elysia } from 'elysia'
import { type ApiError, BadRequestError, NotFoundError } from '../../errors'
import { CreateSegmentBody, UpdateSegmentBody } from '../../modules/segments/model'
import { ATTRIBUTE_OPS, COUNT_OPS } from '../../modules/segments/rule'
import { createSegment, deleteSegment, getSegment, listSegments, updateSegment } from '../../modules/segments/service'
import { type Html, html, raw, timeIso } from '../html'
import {
  attempt,
  checkInput,
  confirmPage,
  csrfField,
  errorBox,
  type Form,
  formOf,
  href,
  htmlResponse,
  type Kit,
  noticeBox,
  type PageContext,
  page,
  redirect,
  requireCsrf,
  signedIn,
} from '../kit'
import { idParam } from './tokens'

export const SEGMENTS_PATH = '/dashboard/segments'
const VISITORS_PATH = '/dashboard/visitors'
const NOTICES: Record<string, string> = {
  created: 'Segment created; membership was evaluated for every visitor.',
  updated: 'Segment saved.',
  deleted: 'Segment deleted.',
}

const OP_LABELS: Record<string, string> = {
  eq: 'is',
  neq: 'is not',
  in: 'is one of (comma-separated)',
  exists: 'is set',
  not_exists: 'is not set',
  gt: 'is more than',
  gte: 'is at least',
  lt: 'is less than',
  lte: 'is at most',
  contains: 'contains',
}
const COUNT_LABELS: Record<string, string> = { gte: 'at least', gt: 'more than', eq: 'exactly', lte: 'at most', lt: 'fewer than' }

/** One condition row of the editor, as form text. */
interface Row {
  kind: 'attribute' | 'event'
  attr: string
  op: string
  value: string
  event: string
  countOp: string
  count: string
  within: string
}

const EMPTY_ROW: Row = { kind: 'attribute', attr: '', op: 'eq', value: '', event: '', countOp: 'gte', count: '', within: '' }

/** A form value as JSON: "quoted" stays text, true/false/null and numbers become themselves. */
function scalarOf(text: string): string | number | boolean | null {
  const s = text.trim()
  if (/^".*"$/.test(s)) return s.slice(1, -1)
  if (s === 'true' || s === 'false') return s === 'true'
  if (s === 'null') return null
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s)
  return s
}

function textOf(v: unknown): string {
  if (typeof v === 'string') return /^(true|false|null|-?\d+(\.\d+)?)$/.test(v) ? `"${v}"` : v
  if (Array.isArray(v)) return v.map(textOf).join(', ')
  return v === undefined ? '' : String(v)
}

function rowsOf(form: Form): Row[] {
  const n = Math.min(50, Math.max(0, Number(form.get('rows')) || 0))
  return Array.from({ length: n }, (_, i) => ({
    kind: form.get(`kind_${i}`) === 'event' ? 'event' : 'attribute',
    attr: form.get(`attr_${i}`),
    op: form.get(`op_${i}`) || 'eq',
    value: form.get(`value_${i}`),
    event: form.get(`event_${i}`),
    countOp: form.get(`count_op_${i}`) || 'gte',
    count: form.get(`count_${i}`),
    within: form.get(`within_${i}`),
  }))
}

/** The rule the form describes: the JSON box when filled, else the condition rows. */
function ruleOf(form: Form): unknown {
  const json = form.get('rule_json').trim()
  if (json) {
    try {
      return JSON.parse(json)
    } catch (err) {
      throw new BadRequestError(`the rule is not valid JSON: ${(err as Error).message}`, 'rule')
    }
  }
  const conditions: unknown[] = []
  for (const r of rowsOf(form)) {
    if (r.kind === 'event') {
      if (!r.event.trim()) continue
      const c: Record<string, unknown> = { event: r.event.trim() }
      if (r.count.trim() !== '') c.count = { [r.countOp]: Number(r.count) }
      if (r.within.trim() !== '') c.within_days = Number(r.within)
      conditions.push(c)
    } else {
      if (!r.attr.trim()) continue
      const c: Record<string, unknown> = { attribute: r.attr.trim(), op: r.op }
      if (r.op === 'in')
        c.value = r.value
          .split(',')
          .filter((x) => x.trim() !== '')
          .map(scalarOf)
      else if (r.op !== 'exists' && r.op !== 'not_exists') c.value = scalarOf(r.value)
      conditions.push(c)
    }
  }
  if (conditions.length === 0) throw new BadRequestError('add at least one condition: an attribute or an event', 'rule')
  return { [form.get('match') === 'any' ? 'any' : 'all']: conditions }
}

/** Rows for a stored rule when it is flat enough for the editor; null means "edit as JSON". */
function rowsOfRule(rule: unknown): { match: string; rows: Row[] } | null {
  if (!rule || typeof rule !== 'object') return null
  const match = 'all' in rule ? 'all' : 'any'
  const items = (rule as Record<string, unknown>)[match]
  if (!Array.isArray(items)) return null
  const rows: Row[] = []
  for (const c of items as Record<string, unknown>[]) {
    if ('attribute' in c) rows.push({ ...EMPTY_ROW, attr: String(c.attribute), op: String(c.op), value: textOf(c.value) })
    else if ('event' in c) {
      const count = (c.count ?? {}) as Record<string, number>
      const ops = Object.entries(count)
      if (ops.length > 1) return null
      rows.push({
        ...EMPTY_ROW,
        kind: 'event',
        event: String(c.event),
        countOp: ops[0]?.[0] ?? 'gte',
        count: ops[0] ? String(ops[0][1]) : '',
        within: c.within_days === undefined ? '' : String(c.within_days),
      })
    } else return null
  }
  return { match, rows }
}

/** A rule error's path in the editor's words: `rule.all.1.value: ...` -> `Condition 2 (value): ...`. */
function ruleErrorInWords(err: ApiError): ApiError {
  const m = /^rule((?:\.(?:all|any)\.\d+)+)(?:\.([\w.]+))?: (.*)$/s.exec(err.message)
  if (!m) return err
  const steps = [...(m[1] as string).matchAll(/\.(?:all|any)\.(\d+)/g)].map((x) => Number(x[1]) + 1)
  const where = `Condition ${steps.join(' › ')}${m[2] ? ` (${m[2].replaceAll('.', ' ')})` : ''}`
  return new BadRequestError(`${where}: ${m[3]}`, err.param)
}

/** A rule in words, for the list. */
export function describeRule(node: unknown): string {
  if (!node || typeof node !== 'object') return ''
  const n = node as Record<string, unknown>
  if ('all' in n || 'any' in n) {
    const kind = 'all' in n ? 'all' : 'any'
    const parts = ((n[kind] as unknown[]) ?? []).map((c) => {
      const text = describeRule(c)
      return c && typeof c === 'object' && ('all' in c || 'any' in c) ? `(${text})` : text
    })
    return parts.join(kind === 'all' ? ' and ' : ' or ')
  }
  if ('attribute' in n) {
    const op = OP_LABELS[String(n.op)]?.replace(' (comma-separated)', '') ?? String(n.op)
    return n.value === undefined ? `${n.attribute} ${op}` : `${n.attribute} ${op} ${JSON.stringify(n.value)}`
  }
  const count = Object.entries((n.count ?? { gte: 1 }) as Record<string, number>)
    .map(([op, k]) => `${COUNT_LABELS[op] ?? op} ${k}×`)
    .join(', ')
  return `did “${n.event}” ${count}${n.within_days ? ` in the last ${n.within_days} days` : ''}`
}

function rowFields(i: number, r: Row): Html {
  const id = (name: string) => `${name}_${i}`
  return html`<fieldset class="condition">
<legend>Condition ${i + 1}</legend>
<label for="${id('kind')}">Type</label>
<select id="${id('kind')}" name="${id('kind')}" data-kind><option value="attribute"${r.kind === 'attribute' ? raw(' selected') : ''}>Attribute</option><option value="event"${r.kind === 'event' ? raw(' selected') : ''}>Event</option></select>
<div data-kind-group="attribute">
<label for="${id('attr')}">Attribute</label><input id="${id('attr')}" name="${id('attr')}" type="text" value="${r.attr}" placeholder="plan, email, name ...">
<label for="${id('op')}">Comparison</label><select id="${id('op')}" name="${id('op')}">${ATTRIBUTE_OPS.map(
    (op) => html`<option value="${op}"${op === r.op ? raw(' selected') : ''}>${OP_LABELS[op]}</option>`,
  )}</select>
<label for="${id('value')}">Value</label><input id="${id('value')}" name="${id('value')}" type="text" value="${r.value}">
</div>
<div data-kind-group="event">
<label for="${id('event')}">Event name</label><input id="${id('event')}" name="${id('event')}" type="text" value="${r.event}" placeholder="viewed_pricing">
<label for="${id('count_op')}">How often</label><select id="${id('count_op')}" name="${id('count_op')}">${COUNT_OPS.map(
    (op) => html`<option value="${op}"${op === r.countOp ? raw(' selected') : ''}>${COUNT_LABELS[op]}</option>`,
  )}</select>
<label for="${id('count')}">Times</label><input id="${id('count')}" name="${id('count')}" type="number" min="0" value="${r.count}" placeholder="1">
<label for="${id('within')}">Within days</label><input id="${id('within')}" name="${id('within')}" type="number" min="1" value="${r.within}" placeholder="any time">
</div>
</fieldset>`
}

interface Draft {
  id?: number
  name: string
  match: string
  rows: Row[]
  json: string
}

function editor(ctx: PageContext, d: Draft): Html {
  const rows = d.rows.length ? d.rows : [EMPTY_ROW]
  return html`<form method="post" action="${href(ctx, SEGMENTS_PATH)}" class="card" aria-label="${d.id ? 'Edit segment' : 'New segment'}">
${csrfField(ctx)}<input type="hidden" name="action" value="${d.id ? 'update' : 'create'}">${d.id ? html`<input type="hidden" name="id" value="${d.id}">` : ''}
<input type="hidden" name="rows" value="${rows.length}">
<label for="segment-name">Name</label>
<input id="segment-name" name="name" type="text" maxlength="100" required value="${d.name}">
<label for="segment-match">Visitors who match</label>
<select id="segment-match" name="match"><option value="all"${d.match !== 'any' ? raw(' selected') : ''}>all of the conditions</option><option value="any"${d.match === 'any' ? raw(' selected') : ''}>any of the conditions</option></select>
${rows.map((r, i) => rowFields(i, r))}
<p><button type="submit" name="add" value="1" class="secondary">Add condition</button></p>
<details${d.json ? raw(' open') : ''}><summary>Advanced: the rule as JSON (nested groups)</summary>
<label for="segment-json">Rule as JSON</label>
<textarea id="segment-json" name="rule_json" spellcheck="false" aria-describedby="segment-json-help">${d.json}</textarea>
<p id="segment-json-help" class="muted">When filled, this is used instead of the conditions above. Example: {"all":[{"attribute":"plan","op":"eq","value":"pro"},{"any":[{"event":"viewed_pricing","count":{"gte":3},"within_days":7}]}]}</p>
</details>
<p class="muted">Values: numbers and true/false are compared as such; put text in quotes ("42") to keep it text. Email and name count as attributes.</p>
<p><button type="submit">${d.id ? 'Save segment' : 'Create segment'}</button></p>
</form>`
}

function draftOf(form: Form, extraRow = false): Draft {
  const rows = rowsOf(form)
  if (extraRow) rows.push({ ...EMPTY_ROW })
  return { id: form.has('id') ? Number(form.get('id')) : undefined, name: form.get('name'), match: form.get('match'), rows, json: form.get('rule_json') }
}

async function listView(ctx: PageContext, o: { draft?: Draft; error?: unknown; status?: number } = {}): Promise<Response> {
  const segments = await listSegments(ctx.kit.deps.store, ctx.site.id)
  const notice = NOTICES[ctx.url.searchParams.get('notice') ?? ''] ?? null
  const rows = segments.map(
    (s) => html`<tr>
<td data-label="Segment" id="segment-${s.id}-name">${s.name}</td>
<td data-label="Members"><a href="${href(ctx, VISITORS_PATH, { segment: s.id })}" aria-label="${s.member_count} members of ${s.name}">${s.member_count}</a></td>
<td data-label="Rule">${describeRule(s.rule)}</td>
<td data-label="Updated">${timeIso(s.updated_utc)}</td>
<td data-label="Actions"><div class="actions">
<a class="button secondary" href="${href(ctx, SEGMENTS_PATH, { edit: s.id })}" aria-describedby="segment-${s.id}-name">Edit</a>
<a class="button secondary" href="${href(ctx, SEGMENTS_PATH, { confirm: 'delete', id: s.id })}" aria-describedby="segment-${s.id}-name">Delete</a>
</div></td></tr>`,
  )
  return htmlResponse(
    page(
      ctx,
      'Segments',
      html`${noticeBox(notice)}${errorBox(o.error)}
${
  segments.length
    ? html`<div class="table-wrap"><table class="stack" aria-label="Segments"><thead><tr><th scope="col">Segment</th><th scope="col">Members</th><th scope="col">Rule</th><th scope="col">Updated</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>${rows}</tbody></table></div>`
    : html`<p class="muted">No segments yet.</p>`
}
<h2>New segment</h2>
${editor(ctx, o.draft && !o.draft.id ? o.draft : { name: '', match: 'all', rows: [], json: '' })}`,
      SEGMENTS_PATH,
    ),
    o.status,
  )
}

function editView(ctx: PageContext, d: Draft, o: { error?: unknown; status?: number; members?: number } = {}): Response {
  return htmlResponse(
    page(
      ctx,
      `Edit segment “${d.name}”`,
      html`<p><a href="${href(ctx, SEGMENTS_PATH)}">All segments</a>${o.members !== undefined ? html` · <a href="${href(ctx, VISITORS_PATH, { segment: d.id })}">${o.members} members</a>` : ''}</p>${errorBox(o.error)}${editor(ctx, d)}`,
      SEGMENTS_PATH,
    ),
    o.status,
  )
}

/** The segments page routes. */
export function segmentRoutes(kit: Kit) {
  const { store, clock } = kit.deps
  return new Elysia()
    .get('/segments', async ({ request }) => {
      const ctx = await signedIn(kit, request)
      const q = ctx.url.searchParams
      if (q.has('edit')) {
        const s = await getSegment(store, ctx.site.id, idParam(q.get('edit')))
        const flat = rowsOfRule(s.rule)
        const draft: Draft = flat
          ? { id: s.id, name: s.name, match: flat.match, rows: flat.rows, json: '' }
          : { id: s.id, name: s.name, match: 'all', rows: [], json: JSON.stringify(s.rule, null, 2) }
        return editView(ctx, draft, { members: s.member_count })
      }
      if (q.get('confirm') === 'delete') {
        const s = await getSegment(store, ctx.site.id, idParam(q.get('id')))
        return confirmPage(ctx, {
          title: 'Delete segment',
          question: `Delete segment “${s.name}”?`,
          detail: `Its ${s.member_count} members stay; only the segment and their memberships in it go.`,
          path: SEGMENTS_PATH,
          fields: { action: 'delete', id: s.id },
          button: 'Delete',
          danger: true,
          active: SEGMENTS_PATH,
        })
      }
      return listView(ctx)
    })
    .post('/segments', async ({ request, body }) => {
      const ctx = await signedIn(kit, request)
      const form = formOf(body)
      requireCsrf(ctx, form)
      const action = form.get('action')
      if (form.get('add')) {
        const draft = draftOf(form, true)
        return action === 'update' ? editView(ctx, draft) : listView(ctx, { draft })
      }
      if (action === 'delete') {
        await deleteSegment(store, ctx.site.id, idParam(form.get('id')))
        return redirect(href(ctx, SEGMENTS_PATH, { notice: 'deleted' }))
      }
      if (action !== 'create' && action !== 'update') throw new NotFoundError('Unknown action.', 'action')
      const draft = draftOf(form)
      return attempt(
        async () => {
          const input = { name: form.get('name'), rule: ruleOf(form) }
          if (action === 'create') await createSegment(store, clock, ctx.site.id, checkInput(CreateSegmentBody, input))
          else await updateSegment(store, clock, ctx.site.id, idParam(form.get('id')), checkInput(UpdateSegmentBody, input))
          return redirect(href(ctx, SEGMENTS_PATH, { notice: action === 'create' ? 'created' : 'updated' }))
        },
        (err) => {
          const error = ruleErrorInWords(err)
          return action === 'update' ? editView(ctx, draft, { error, status: err.status }) : listView(ctx, { draft, error, status: err.status })
        },
      )
    })
}
