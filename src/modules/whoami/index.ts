/** `whoami`: token introspection without probing. */
import { Elysia, t } from 'elysia'
import { ForbiddenError } from '../../errors'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { TokenQuery } from '../../http/params'
import { Whoami } from './model'
import { whoami } from './service'

/** The whoami controller. */
export function whoamiModule(deps: ModuleDeps) {
  return new Elysia({ prefix: '/v1/whoami' }).use(deps.auth).get(
    '/',
    async ({ principal, set }) => {
      if (principal.tokenId === null) throw new ForbiddenError('whoami needs an API token, not a publishable key.')
      return ok(set, await whoami(deps, principal))
    },
    {
      query: t.Object(TokenQuery),
      response: responses({ 200: Envelope(Whoami) }, [403]),
      detail: {
        tags: ['whoami'],
        security: [{ bearer: [] }],
        summary: 'Introspect the token',
        description: 'Site, scopes, plan, request counts and the current rate-limit state of the calling token.',
      },
    },
  )
}
