/** `mlc serve` (the default command). */
import { configFlagNames, configHelp, loadConfig } from '../config'
import { startServer } from '../server'
import { type FlagSpec, parseFlags } from './args'

export const SERVE_HELP = `mlc serve [flags]   (the default command)
${configHelp()}`

/** Starts the server and stops it gracefully on SIGTERM/SIGINT. */
export async function serveCommand(argv: string[], env: Record<string, string | undefined>): Promise<void> {
  const flags: FlagSpec = Object.fromEntries(configFlagNames().map((f) => [f, { type: 'string' as const }]))
  const { values } = parseFlags(argv, flags)
  const config = loadConfig(values as Record<string, string>, env)
  const server = await startServer(config)
  const onSignal = async () => {
    await server.stop()
    process.exit(0)
  }
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
}
