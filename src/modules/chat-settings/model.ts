/** Per-site chat settings schemas. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'
import { RequestInteger } from '../../http/request-integer'

/** Settings of a site that never changed them. */
export const DEFAULT_CHAT_SETTINGS = { max_bot_replies: 5, min_confidence: 0.5 }

export const ChatSettings = t.Object({
  max_bot_replies: ResponseInteger({ description: 'Bot replies after which the next visitor message hands off (max_turns).' }),
  min_confidence: t.Number({ description: 'Share (0..1) of the question the best kb passage must cover, or the kb bot hands off.' }),
})
export type ChatSettings = Static<typeof ChatSettings>

export const UpdateChatSettingsBody = t.Object({
  max_bot_replies: t.Optional(RequestInteger({ minimum: 1, maximum: 100, error: 'max_bot_replies must be an integer from 1 to 100' })),
  min_confidence: t.Optional(t.Number({ minimum: 0, maximum: 1, error: 'min_confidence must be a number from 0 to 1' })),
})
export type UpdateChatSettingsInput = Static<typeof UpdateChatSettingsBody>
