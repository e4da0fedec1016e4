/** Starts the real server (source or built binary) as a child process on a free port. */
import { type Subprocess, spawn } from 'bun'
import { freePort } from '../helpers'

export interface ServerProcess {
  url: string
  port: number
  proc: Subprocess
  output: () => string
  /** Resolves once the process's stdout and stderr are read to the end. */
  drained: Promise<unknown>
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

const ROOT = new URL('../..', import.meta.url).pathname

/**
 * `cmd` in a mount namespace where the source tree is an empty folder, so a binary that reached
 * for its source files (a worker thread, an asset) fails as it would on a user's machine. Needs
 * `unshare -m` (root, as CI runs); elsewhere `cmd` runs as it is and says so on stderr.
 */
export function withoutSourceTree(cmd: string[]): string[] {
  if (!canHideSource) {
    console.warn('unshare -m is not allowed here: the binary runs beside its source tree')
    return cmd
  }
  return [
    '/usr/bin/unshare',
    '-m',
    '--propagation',
    'private',
    '--',
    '/usr/bin/sh',
    '-c',
    `/usr/bin/mount -t tmpfs none '${ROOT}' && cd / && exec "$0" "$@"`,
    ...cmd,
  ]
}
const canHideSource =
  Bun.spawnSync(['/usr/bin/unshare', '-m', '--propagation', 'private', '--', '/usr/bin/sh', '-c', `/usr/bin/mount -t tmpfs none '${ROOT}'`]).exitCode === 0

/** `bun src/main.ts <args>` with the given env; resolves with exit code and output. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = spawn([process.execPath, 'src/main.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { code, stdout, stderr }
}

/** Starts `cmd` (default: the source entry) serving on a free loopback port; waits for /healthz. */
export async function startServerProcess(
  dataDir: string,
  opts: { cmd?: string[]; env?: Record<string, string>; startTimeoutMs?: number } = {},
): Promise<ServerProcess> {
  const port = freePort()
  const cmd = opts.cmd ?? [process.execPath, 'src/main.ts', 'serve']
  let out = ''
  const proc = spawn([...cmd, '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir], {
    cwd: ROOT,
    env: { ...(opts.env ?? process.env), ...(opts.env ? {} : {}) },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const drain = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out += new TextDecoder().decode(chunk)
  }
  const drained = Promise.all([drain(proc.stdout as ReadableStream<Uint8Array>), drain(proc.stderr as ReadableStream<Uint8Array>)])
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000)
  for (;;) {
    try {
      const r = await fetch(`${url}/healthz`)
      if (r.ok) break
    } catch {}
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${out}`)
    await Bun.sleep(50)
  }
  return {
    url,
    port,
    proc,
    output: () => out,
    drained,
    async stop(signal = 'SIGTERM') {
      proc.kill(signal)
      const code = await proc.exited
      await drained
      return code
    },
  }
}
