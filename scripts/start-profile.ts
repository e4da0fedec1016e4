/**
 * Records which functions a start of the compiled server uses, for Bun's profile-guided bytecode
 * layout (`--bytecode-order`, see scripts/build.ts). The binary runs as a service starts: `serve`
 * on an empty data dir and a loopback port the OS picks, its first `/healthz`, an API request,
 * then SIGTERM; Bun writes the profile when the process exits. Bounded to 20 s.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const LIMIT_MS = 20_000

/** Runs `binary` once and returns the profile's path, or null (with a warning) when that failed. */
export async function recordStartProfile(binary: string): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), 'mlc-start-profile-'))
  const profile = join(dir, 'start.order')
  const env = { BUN_BYTECODE_ORDER_OUT: profile, MLC_LOG_LEVEL: 'info', MLC_DATA_DIR: join(dir, 'data'), MLC_HOST: '127.0.0.1', MLC_PORT: '0' }
  const proc = Bun.spawn([binary, 'serve'], { env, stdout: 'pipe', stderr: 'pipe' })
  const killer = setTimeout(() => proc.kill('SIGKILL'), LIMIT_MS)
  try {
    const url = await listeningUrl(proc.stdout)
    if (!url) throw new Error('the server did not report listening')
    await fetch(`${url}/healthz`).then((r) => r.arrayBuffer())
    await fetch(`${url}/v1/tags`).then((r) => r.arrayBuffer())
    proc.kill('SIGTERM')
    if ((await proc.exited) !== 0) throw new Error(`the server exited with ${proc.exitCode}`)
    if (!existsSync(profile)) throw new Error('no profile was written')
    return profile
  } catch (err) {
    proc.kill('SIGKILL')
    console.warn(`build: could not record the start profile (${(err as Error).message}); building without it`)
    return null
  } finally {
    clearTimeout(killer)
  }
}

/** The URL from the server's `listening` log line. */
async function listeningUrl(stdout: ReadableStream<Uint8Array>): Promise<string | null> {
  let buffered = ''
  const decoder = new TextDecoder()
  for await (const chunk of stdout) {
    buffered += decoder.decode(chunk, { stream: true })
    for (const line of buffered.split('\n')) {
      if (!line.includes('"listening"')) continue
      const { url } = JSON.parse(line) as { url?: string }
      return url ?? null
    }
  }
  return null
}

/** Removes the folder the profile was recorded in (after the builds that use it). */
export function removeStartProfile(profile: string | null): void {
  if (profile) rmSync(join(profile, '..'), { recursive: true, force: true })
}
