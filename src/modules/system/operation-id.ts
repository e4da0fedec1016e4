/**
 * operationIds for the OpenAPI document, derived from the method and the published path, so every
 * route has a stable one without declaring it: `GET /v1/tags` listTags, `POST /v1/tags` createTag,
 * `GET|PATCH|DELETE /v1/tags/{id}` getTag, updateTag, deleteTag; `POST /v1/tags/{id}` (an action
 * on an item) runTagAction. Generated clients name their functions after these, so they change
 * only when a route does. A route whose verb says more (`POST /v1/sessions/{id}?action=close`)
 * declares its own in `detail.operationId`, which wins.
 */

/** What the derivation reads of an operation besides its method and path. */
export interface OperationShape {
  /** Whether the success answer's `data` is a list (GET on a collection: list, not get). */
  listsItems: boolean
}

const VERBS: Record<string, string> = { get: 'get', post: 'create', put: 'replace', patch: 'update', delete: 'delete' }

/** The operationId of `method` on `path` (an OpenAPI path: `/v1/tags/{id}`, no trailing slash). */
export function deriveOperationId(method: string, path: string, shape: OperationShape): string {
  // The version prefix names no resource: `/v1/tags` and `/v2/tags` are both tags.
  const segments = path.split('/').filter((s) => s !== '' && !/^v\d+$/.test(s))
  const onItem = segments.length > 0 && isParam(segments[segments.length - 1] as string)
  const words: string[] = []
  segments.forEach((segment, i) => {
    if (isParam(segment)) return
    // A collection followed by an id is one of its items (`sessions/{id}/messages`: a session's messages).
    const item = i + 1 < segments.length ? isParam(segments[i + 1] as string) : false
    words.push(item ? singular(segment) : segment)
  })
  const m = method.toLowerCase()
  let verb = VERBS[m] ?? m
  let noun = words.map(pascal).join('')
  if (onItem && m === 'post') return `run${noun}Action`
  if (!onItem && words.length > 0) {
    const last = words.length - 1
    // A collection: GET lists it (or reads a singleton such as site_settings), POST adds one item to it.
    if (m === 'get' && shape.listsItems) verb = 'list'
    else if (m === 'post') noun = [...words.slice(0, last).map(pascal), pascal(singular(words[last] as string))].join('')
  }
  return `${verb}${noun || 'Root'}`
}

function isParam(segment: string): boolean {
  return segment.startsWith('{') || segment.startsWith(':')
}

/** The singular of an English plural as resource names use them (`kb_articles`, `entries`); other words unchanged. */
function singular(word: string): string {
  if (/ies$/.test(word)) return `${word.slice(0, -3)}y`
  if (/(ss|us|is)$/.test(word)) return word
  if (/s$/.test(word)) return word.slice(0, -1)
  return word
}

/** `webhook_subscriptions` / `kb-articles` -> `WebhookSubscriptions` / `KbArticles`. */
function pascal(word: string): string {
  return word
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join('')
}
