/** `chat_settings`: per-site bot settings (handoff after N replies, kb confidence threshold). */
import { Elysia, t } from 'elysia'
import { chatSettings, updateChatSettings } from '../../chat/settings'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { TokenQuery } from '../../http/params'
import { ChatSettings, UpdateChatSettingsBody } from './model'

const query = t.Object(TokenQuery)
const detail = { tags: ['chat'], security: [{ bearer: [] }] }

/** The chat_settings controller. */
export function chatSettingsModule({ auth, store, clock }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/chat_settings' })
    .use(auth)
    .get('/', async ({ principal, set }) => ok(set, await chatSettings(store, principal.siteId)), {
      query,
      response: responses({ 200: Envelope(ChatSettings) }, [403]),
      detail: { ...detail, summary: 'Get chat settings' },
    })
    .patch('/', async ({ principal, body, set }) => ok(set, await updateChatSettings(store, clock, principal.siteId, body)), {
      query,
      body: UpdateChatSettingsBody,
      response: responses({ 200: Envelope(ChatSettings) }, [400, 403, 413]),
      detail: {
        ...detail,
        summary: 'Change chat settings',
        description:
          'Needs write scope. `max_bot_replies` (1-100, default 5): after that many bot replies the next visitor message hands off (max_turns). `min_confidence` (0-1, default 0.5): the kb bot hands off when its best passage covers less of the question.',
      },
    })
}
