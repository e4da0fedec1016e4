/** `mlc serve` (the default command). */
import { configFlagNames, configHelp, loadConfig } from '../config'
import { PRIVATE_UMASK } from '../db/data-dir'
import { startServer } from '../server'
import { type FlagSpec, parseFlags } from './args'

export const SERVE_HELP = `mlc serve [flags]   (the default command)
${configHelp()}`

/** Starts the server and stops it gracefully on SIGTERM/SIGINT. */
export async function serveCommand(argv: string[], env: Record<string, string | undefined>): Promise<void> {
  const flags: FlagSpec = Object.fromEntries(configFlagNames().map((f) => [f, { type: 'string' as const }]))
  const { values } = argv.length ? parseFlags(argv, flags) : { values: {} }
  const config = loadConfig(values as Record<string, string>, env)
  // Whatever the server or SQLite creates from now on is private to its user, like the data dir
  // (the files mlc knows of are created 0600 explicitly; this covers the rest).
  process.umask(PRIVATE_UMASK)
  const server = await startServer(config)
  const onSignal = async () => {
    // Whatever happens during the graceful stop, the process is gone 10 s after the signal. The
    // timer also keeps the process alive while the stop awaits things that do not (the webhook
    // worker thread is unref'd): without it the process could end halfway, before the flush.
    const deadline = setTimeout(() => {
      console.error('mlc: graceful shutdown took over 10 s; exiting now')
      process.exit(1)
    }, 10_000)
    await server.stop()
    clearTimeout(deadline)
    // Exit by running out of work, so buffered log lines ("stopped") still reach a piped stdout
    // (journald, docker logs); process.exit() would drop them. Anything left holding the loop
    // open gets one more second.
    setTimeout(() => process.exit(0), 1000).unref()
  }
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
}
