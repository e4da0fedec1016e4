/** `usage`: AI replies served and bot tokens used this billing cycle. */
import { Elysia, t } from 'elysia'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { TokenQuery } from '../../http/params'
import { Usage } from './model'
import { currentUsage } from './service'

/** The usage controller. */
export function usageModule({ auth, chat }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/usage' }).use(auth).get('/', async ({ principal, set }) => ok(set, await currentUsage(chat, principal.siteId)), {
    query: t.Object(TokenQuery),
    response: responses({ 200: Envelope(Usage) }, [403]),
    detail: {
      tags: ['chat'],
      security: [{ bearer: [] }],
      summary: 'Bot usage this billing cycle',
      description: "The current monthly cycle (anchored on the site's creation day and time, clamped to short months): AI replies served and bot tokens used.",
    },
  })
}
