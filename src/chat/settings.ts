/** A site's chat settings: stored values, else the defaults. */
import type { Clock } from '../clock'
import { chatSettingsLock } from '../db/lock-keys'
import type { Repositories, Store } from '../db/store'
import { type ChatSettings, DEFAULT_CHAT_SETTINGS, type UpdateChatSettingsInput } from '../modules/chat-settings/model'

/** The site's chat settings. */
export async function chatSettings(store: Pick<Repositories, 'chat'>, siteId: number): Promise<ChatSettings> {
  const row = await store.chat.settings(siteId)
  return row ? { max_bot_replies: row.max_bot_replies, min_confidence: row.min_confidence } : { ...DEFAULT_CHAT_SETTINGS }
}

/** Changes some of the site's chat settings; the others keep their values. */
export async function updateChatSettings(store: Store, clock: Clock, siteId: number, input: UpdateChatSettingsInput): Promise<ChatSettings> {
  // Read and write in one transaction under the site's chat-settings lock, taken before the read,
  // so a concurrent change of the other setting is not undone.
  const row = await store.transaction(async (tx) => {
    await tx.lock(chatSettingsLock(siteId))
    const current = await chatSettings(tx, siteId)
    return tx.chat.saveSettings(siteId, input.max_bot_replies ?? current.max_bot_replies, input.min_confidence ?? current.min_confidence, clock.now())
  })
  return { max_bot_replies: row.max_bot_replies, min_confidence: row.min_confidence }
}
