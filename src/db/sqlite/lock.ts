/**
 * The data dir lock: a running server (and a restore in progress) holds an exclusive lock on
 * `mlc.lock` in the data dir for as long as it runs. The lock is SQLite's own file lock on a tiny
 * database opened with `locking_mode = EXCLUSIVE`, so it works the same on every platform and
 * the operating system drops it when the process dies: a crash never leaves a stale lock.
 * `mlc.pid` next to it names the holder, for messages only.
 *
 * Taking the lock of an existing data dir needs no free space (the lock file exists and taking
 * the lock writes nothing to it), so a server restarted on a full disk still starts; the pid file
 * is then left out rather than written empty.
 */
import { Database } from 'bun:sqlite'
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensurePrivateDir, ensurePrivateFile, PRIVATE_FILE_MODE } from './file-modes'

/** Raised when another process holds the data dir. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number | null,
    purpose: string,
  ) {
    super(`${purpose}: another mlc process${holderPid ? ` (pid ${holderPid})` : ''} is using the data dir ${dataDir}. Stop it first (systemctl stop mlc).`)
  }
}

export interface DataDirLock {
  /** Why `mlc.pid` could not be written (a full disk ...), or null. The lock holds either way. */
  readonly pidFileError: string | null
  /** Releases the lock (idempotent). */
  release(): void
}

/** The pid recorded by the current holder of the data dir, if any. */
export function lockHolderPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, 'mlc.pid'), 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : null
  } catch {
    return null
  }
}

/**
 * Takes the data dir lock or throws DataDirLockedError at once (never waits). `purpose` starts
 * the error message ("cannot serve", "cannot restore").
 */
export function lockDataDir(dataDir: string, purpose: string): DataDirLock {
  ensurePrivateDir(dataDir)
  const lockFile = join(dataDir, 'mlc.lock')
  ensurePrivateFile(lockFile)
  const db = new Database(lockFile, { create: true, readwrite: true })
  try {
    db.exec('PRAGMA busy_timeout = 0')
    db.exec('PRAGMA locking_mode = EXCLUSIVE')
    // The lock file holds nothing worth a rollback journal; no journal means no stray -journal file.
    db.exec('PRAGMA journal_mode = MEMORY')
    // Nor anything worth an fsync: the lock is the file lock, not the contents.
    db.exec('PRAGMA synchronous = OFF')
    // The first write takes the exclusive lock; EXCLUSIVE locking mode keeps it until close.
    db.exec('BEGIN EXCLUSIVE')
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER)')
    db.exec('COMMIT')
  } catch (err) {
    db.close()
    const code = (err as { code?: string }).code ?? ''
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) throw new DataDirLockedError(dataDir, lockHolderPid(dataDir), purpose)
    throw err
  }
  const pidFile = join(dataDir, 'mlc.pid')
  const pidFileError = writePidFile(pidFile)
  let released = false
  return {
    pidFileError,
    release() {
      if (released) return
      released = true
      rmSync(pidFile, { force: true })
      db.close()
    },
  }
}

/**
 * Writes this process's pid to `pidFile` through a temporary file and a rename, so the file is
 * whole or absent. On failure (no space left ...) no pid file remains: one left by an earlier
 * holder would name a process that no longer holds the lock. Returns the error, or null.
 */
function writePidFile(pidFile: string): string | null {
  const partial = `${pidFile}.${process.pid}.partial`
  try {
    writeFileSync(partial, `${process.pid}\n`, { mode: PRIVATE_FILE_MODE })
    renameSync(partial, pidFile)
    return null
  } catch (err) {
    for (const f of [partial, pidFile]) {
      try {
        rmSync(f, { force: true })
      } catch {}
    }
    return (err as Error).message
  }
}
