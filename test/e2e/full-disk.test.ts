/**
 * A full disk at start. A server restarted while its disk is full (under systemd's
 * Restart=on-failure, a crash here is a crash loop) starts: the data dir lock needs no space, the
 * pid file is left out rather than written empty, migrations with nothing to do write nothing.
 * Reads are served, writes answer 503 `unavailable` in the envelope and /readyz says "disk full";
 * once space returns writes succeed, and the WAL that grew meanwhile is truncated.
 *
 * The disk is a real 4 MB tmpfs filled with a file. Mounting needs root, which CI has (it runs as
 * root on this kind of machine); elsewhere the test is skipped, saying why.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'bun'
import { expectError, tempDir } from '../helpers'
import { runCli, type ServerProcess, startServerProcess } from './server'

const root = tempDir('mlc-full-disk-')
const disk = join(root, 'disk')
mkdirSync(disk)
/** Mounts the small tmpfs; the reason when that is not permitted here. */
function mountDisk(): string | null {
  try {
    const r = spawnSync(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk], { stderr: 'pipe' })
    return r.exitCode === 0 ? null : r.stderr.toString().trim() || `mount exited ${r.exitCode}`
  } catch (err) {
    return String(err) // no mount(8) at all
  }
}
const mountError = mountDisk()
const mounted = mountError === null
if (!mounted) console.warn(`full-disk tests skipped: cannot mount a tmpfs here (mounting needs root): ${mountError}`)
afterAll(() => {
  if (mounted) spawnSync(['umount', disk])
  rmSync(root, { recursive: true, force: true })
})

const dataDir = join(disk, 'data')
let fillerCount = 0
/** Fills the disk to the last byte with a new file; returns its path. */
function fillDisk(): string {
  const path = join(disk, `filler-${fillerCount++}`)
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  try {
    for (let size = chunk.length; size >= 1; size >>= 1) {
      try {
        for (;;) writeSync(fd, chunk, 0, size)
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOSPC') throw err
      }
    }
  } finally {
    closeSync(fd)
  }
  return path
}

/** One API call as a user would make it: status, headers and the parsed body. */
async function call(server: ServerProcess, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, headers: res.headers, body: (await res.json()) as any }
}

describe.skipIf(!mounted)('a full disk', () => {
  test('a restart on a full disk serves reads, answers writes 503 and /readyz "disk full", and recovers when space returns', async () => {
    let server = await startServerProcess(dataDir)
    const { token } = JSON.parse((await runCli(['token', 'create', '--site', '1', '--scopes', 'read,write', '--json'], { MLC_DATA_DIR: dataDir })).stdout)
    for (let i = 0; i < 20; i++) expect((await call(server, 'POST', '/v1/tags', token, { name: `before-${i}`, color: '#2563eb' })).status).toBe(201)

    // The disk fills while the server runs: writes answer 503 (once the WAL's own room is used up).
    const fillers = [fillDisk()]
    let refused = 0
    for (let i = 0; i < 500 && refused === 0; i++) {
      if ((await call(server, 'POST', '/v1/tags', token, { name: `during-${i}`, color: '#2563eb' })).status === 503) refused++
    }
    expect(refused).toBe(1)
    expect(await server.stop()).toBe(0)

    // Whatever the stop gave back is taken too: the restart finds the disk full to the last byte.
    fillers.push(fillDisk())
    server = await startServerProcess(dataDir)
    try {
      const pidFile = join(dataDir, 'mlc.pid')
      // Never an empty pid file: either none, or this process's pid.
      if (existsSync(pidFile)) expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(server.proc.pid))
      expect(server.output()).toContain('could not write mlc.pid')

      const read = await call(server, 'GET', '/v1/tags?limit=100', token)
      expect(read.status).toBe(200)
      expect(read.body.data.map((t: { name: string }) => t.name)).toContain('before-19')

      const write = await call(server, 'POST', '/v1/tags', token, { name: 'while-full', color: '#2563eb' })
      expectError(write, 503, 'unavailable')
      expect(write.headers.get('retry-after')).toBe('5')

      // A load balancer polls for a while; the answer holds, and the server stays up.
      for (let i = 0; i < 3; i++) {
        const ready = await fetch(`${server.url}/readyz`)
        const readyBody = (await ready.json()) as any
        expectError({ status: ready.status, headers: ready.headers, body: readyBody }, 503, 'unavailable')
        expect(readyBody.error.message).toContain('database not writable: disk full (SQLITE_FULL)')
        await Bun.sleep(250)
      }
      expect(server.proc.exitCode).toBeNull()

      // Space returns: writes succeed without a restart, /readyz is 200 again.
      for (const f of fillers) rmSync(f)
      const after = await call(server, 'POST', '/v1/tags', token, { name: 'after-space-returns', color: '#2563eb' })
      expect(after.status).toBe(201)
      let readyStatus = 0
      for (let i = 0; i < 100 && readyStatus !== 200; i++) {
        readyStatus = (await fetch(`${server.url}/readyz`)).status
        if (readyStatus !== 200) await Bun.sleep(50)
      }
      expect(readyStatus).toBe(200)

      // The WAL that held those writes is truncated once nobody writes (it is far below the
      // 64 MB that trims it on a disk with room): its space goes back to the file system.
      const wal = join(dataDir, 'mlc.db-wal')
      let walBytes = statSync(wal).size
      for (let i = 0; i < 100 && walBytes > 0; i++) {
        await Bun.sleep(50)
        walBytes = statSync(wal).size
      }
      expect(walBytes).toBe(0)
    } finally {
      expect(await server.stop()).toBe(0)
    }
  }, 60_000)
})
