/**
 * The success envelope around JSON that must reach the client exactly as stored (the event feed
 * serves the bytes webhooks delivered). Returning an object would have Elysia serialise it again,
 * and a parse + stringify may change what a consumer compares or verifies: these build the
 * envelope's text around the stored text instead, with the keys in the order `ok()` and
 * `okPage()` give them. Elysia adds the request id, CORS and rate-limit headers of `set` to a
 * returned Response as to any other answer; it does not check a Response against the route's
 * response schema, which still describes it in the OpenAPI document.
 */
import { requestIdOf } from './envelope'
import { JSON_CONTENT_TYPE } from './headers'

type HeaderBag = { headers: Record<string, unknown> }

/**
 * A 200 envelope already serialised. A Response, so Elysia neither serialises nor checks it again;
 * it keeps its text, so a GET's ETag (src/http/conditional-get.ts) is taken from it without
 * reading the body back.
 */
export class JsonTextResponse extends Response {
  constructor(readonly jsonText: string) {
    super(jsonText, { headers: { 'content-type': JSON_CONTENT_TYPE } })
  }
}

function json(text: string): Response {
  return new JsonTextResponse(text)
}

/** `ok(set, data)` as a Response, `dataJson` being the JSON text of `data`, used as is. */
export function okJsonText(set: HeaderBag, dataJson: string): Response {
  return json(`{"ok":true,"data":${dataJson},"request_id":${JSON.stringify(requestIdOf(set))}}`)
}

/** `okPage(set, page)` as a Response, each item being JSON text, used as is. */
export function okPageJsonText(set: HeaderBag, page: { items: string[]; has_more: boolean; next_cursor: string | null }): Response {
  return json(
    `{"ok":true,"data":[${page.items.join(',')}],"has_more":${page.has_more},"next_cursor":${JSON.stringify(page.next_cursor)},` +
      `"request_id":${JSON.stringify(requestIdOf(set))}}`,
  )
}
