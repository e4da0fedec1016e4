/** Chooses the bot provider named by MLC_AI_PROVIDER. */
import type { Config } from '../../config'
import { createKbProvider } from './kb-provider'
import { createOpenAiProvider } from './openai-provider'
import type { BotProvider } from './provider'

/** The configured bot provider. */
export function createBotProvider(config: Config): BotProvider {
  if (config.aiProvider === 'openai') {
    return createOpenAiProvider({ baseUrl: config.aiBaseUrl, apiKey: config.aiApiKey, model: config.aiModel, timeoutMs: config.aiTimeoutMs })
  }
  return createKbProvider()
}
