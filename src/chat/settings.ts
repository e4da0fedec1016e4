/** A site's chat settings: stored values, else the defaults. */
import type { Clock } from '../clock'
import type { Store } from '../db/store'
import { type ChatSettings, DEFAULT_CHAT_SETTINGS, type UpdateChatSettingsInput } from '../modules/chat-settings/model'

/** The site's chat settings. */
export function chatSettings(store: Store, siteId: number): ChatSettings {
  const row = store.chat.settings(siteId)
  return row ? { max_bot_replies: row.max_bot_replies, min_confidence: row.min_confidence } : { ...DEFAULT_CHAT_SETTINGS }
}

/** Changes some of the site's chat settings; the others keep their values. */
export function updateChatSettings(store: Store, clock: Clock, siteId: number, input: UpdateChatSettingsInput): ChatSettings {
  const current = chatSettings(store, siteId)
  const row = store.chat.saveSettings(siteId, input.max_bot_replies ?? current.max_bot_replies, input.min_confidence ?? current.min_confidence, clock.now())
  return { max_bot_replies: row.max_bot_replies, min_confidence: row.min_confidence }
}
