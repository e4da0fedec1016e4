/**
 * A typed client for the mlc REST API: openapi-fetch over the types openapi-typescript generated
 * from /v1/openapi.json (schema.d.ts; `npm run client:generate` writes it again). Paths, query
 * parameters, bodies and answers are checked by the TypeScript compiler:
 *
 *   const mlc = createMlcClient({ baseUrl: 'https://chat.example.org', token: process.env.MLC_TOKEN })
 *   const { data, error } = await mlc.GET('/v1/tags')
 *   if (error) throw new Error(`${error.error.code}: ${error.error.message}`)
 *   for (const tag of data.data) console.log(tag.id, tag.name)
 */
import createClient, { type Client, type ClientOptions, mergeHeaders } from 'openapi-fetch'
import type { components, paths } from './schema'

export type { components, operations, paths } from './schema'

/** The error envelope every error status answers with. */
export type MlcError = components['schemas']['ErrorEnvelope']

/** The client: `GET`, `POST`, `PATCH`, `DELETE` ... on the API's paths. */
export type MlcClient = Client<paths>

export interface MlcClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  /** The server's public URL (MLC_PUBLIC_URL), without `/v1`. */
  baseUrl: string
  /** An API token (`mlc_...`), or a site's publishable key (`pk_...`) for identify and track. Sent as `Authorization: Bearer`. */
  token?: string
}

/** A client for the server at `baseUrl` that sends `token` with every request. */
export function createMlcClient({ baseUrl, token, headers, ...options }: MlcClientOptions): MlcClient {
  const auth = token ? { authorization: `Bearer ${token}` } : undefined
  return createClient<paths>({ ...options, baseUrl: baseUrl.replace(/\/+$/, ''), headers: mergeHeaders(headers, auth) })
}
