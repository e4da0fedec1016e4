/** `mlc healthcheck`: exit 0 when the local server answers /healthz, for Docker's HEALTHCHECK (no curl in the image). */
import { loadConfig } from '../config'
import { type FlagSpec, flagsHelp, parseFlags } from './args'

export const HEALTHCHECK_FLAGS: FlagSpec = {
  url: { type: 'string', value: 'URL', default: 'http://127.0.0.1:$MLC_PORT/healthz', help: 'what to probe' },
  port: { type: 'string', value: 'N' },
}

export const HEALTHCHECK_HELP = `mlc healthcheck [--url URL]
  Exits 0 when the server answers 200 within 3 s, 1 otherwise (Docker HEALTHCHECK).
${flagsHelp(HEALTHCHECK_FLAGS)}`

/** Probes the server; resolves with the exit code. */
export async function healthcheckCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseFlags(argv, HEALTHCHECK_FLAGS)
  const config = loadConfig({ port: values.port as string | undefined }, env)
  const url = (values.url as string | undefined) ?? `http://127.0.0.1:${config.port}/healthz`
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
    if (res.status === 200) return 0
    console.error(`mlc: ${url} answered ${res.status}`)
  } catch (err) {
    console.error(`mlc: ${url}: ${(err as Error).message}`)
  }
  return 1
}
