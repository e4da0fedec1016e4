/** The data dir lock: exclusive while held, released on release() and when the holder is killed. */
import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'bun'
import { DataDirLockedError, lockDataDir } from '../../../src/db/sqlite/lock'
import { tempDir } from '../../helpers'

const root = tempDir('mlc-lock-')
afterAll(() => rmSync(root, { recursive: true, force: true }))
const ROOT = new URL('../../..', import.meta.url).pathname

describe('lockDataDir', () => {
  test('a second lock on the same dir is refused at once, naming the holder; release frees it', () => {
    const dir = join(root, 'a')
    const first = lockDataDir(dir, 'cannot serve')
    expect(readFileSync(join(dir, 'mlc.pid'), 'utf8').trim()).toBe(String(process.pid))
    const started = performance.now()
    let error: unknown
    try {
      lockDataDir(dir, 'cannot restore')
    } catch (err) {
      error = err
    }
    expect(performance.now() - started).toBeLessThan(500)
    expect(error).toBeInstanceOf(DataDirLockedError)
    expect((error as Error).message).toBe(
      `cannot restore: another mlc process (pid ${process.pid}) is using the data dir ${dir}. Stop it first (systemctl stop mlc).`,
    )
    first.release()
    first.release()
    expect(existsSync(join(dir, 'mlc.pid'))).toBe(false)
    lockDataDir(dir, 'again').release()
  })

  test('other data dirs are independent', () => {
    const a = lockDataDir(join(root, 'b1'), 'x')
    const b = lockDataDir(join(root, 'b2'), 'x')
    a.release()
    b.release()
  })

  test('a holder killed with SIGKILL leaves no stale lock (only a stale pid file)', async () => {
    const dir = join(root, 'killed')
    const code = `const { lockDataDir } = await import(${JSON.stringify(join(ROOT, 'src/db/sqlite/lock.ts'))}); lockDataDir(${JSON.stringify(dir)}, 'x'); console.log('held'); await Bun.sleep(60000)`
    const proc = spawn([process.execPath, '-e', code], { stdout: 'pipe', stderr: 'inherit' })
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
    const { value } = await reader.read()
    expect(new TextDecoder().decode(value)).toContain('held')
    expect(() => lockDataDir(dir, 'while alive')).toThrow(DataDirLockedError)
    proc.kill('SIGKILL')
    await proc.exited
    expect(existsSync(join(dir, 'mlc.pid'))).toBe(true)
    lockDataDir(dir, 'after the crash').release()
  })
})
