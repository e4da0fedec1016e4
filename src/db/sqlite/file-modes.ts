/**
 * File modes of the data dir. The database holds webhook signing secrets, identity secrets and
 * the dashboard's session key, so the data dir is private to the user mlc runs as: the folder is
 * 0700 and every file mlc puts in it is 0600. New files are created with that mode (never created
 * wider and narrowed later, which would leave a moment for another user to open them); data dirs
 * made by older versions (0755 folder, 0644 files) are tightened when the server starts.
 * SQLite gives `-wal` and `-shm` files the mode of their database, so a 0600 `mlc.db` is enough
 * for them.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** The data dir (and the folders mlc makes in it): owner only. */
export const PRIVATE_DIR_MODE = 0o700
/** Every file mlc writes in the data dir: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600

/** The umask of commands that write to the data dir: no group or other permissions. */
export const PRIVATE_UMASK = 0o077

/** Files of the data dir that mlc writes (the database and its companions, the lock, the pid file). */
const DATA_FILES = /^mlc\.(db(-wal|-shm|\.pre-restore-.*)?|lock|pid)$/
/** The folder `scripts/install.sh` keeps pre-upgrade backups in. */
const BACKUPS_DIR = 'backups'

/** Creates `dir` (and missing parents) as a private folder; an existing one is left as it is. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
}

/**
 * Creates `path` as an empty 0600 file if it does not exist (SQLite takes an empty file as a new
 * database; it would otherwise create it 0644). An existing file is not touched.
 */
export function ensurePrivateFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx', PRIVATE_FILE_MODE))
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err
  }
}

/** One mode change made by `tightenDataDir` (modes in octal, as `ls -l` and chmod spell them). */
export interface ModeChange {
  path: string
  from: string
  to: string
}

/** What `tightenDataDir` changed, and what it could not change (not the owner, read-only mount ...). */
export interface TightenResult {
  changed: ModeChange[]
  failed: { path: string; error: string }[]
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`

/**
 * Takes group and other permissions away from the data dir, the files mlc keeps in it and the
 * pre-upgrade backups folder. Owner bits stay (0755 -> 0700, 0644 -> 0600). A sticky folder (a
 * shared /tmp) is not the private folder this is for: it is left alone, its mlc files are not.
 */
export function tightenDataDir(dataDir: string): TightenResult {
  const result: TightenResult = { changed: [], failed: [] }
  const tighten = (path: string, isDir: boolean) => {
    let mode: number
    try {
      const st = statSync(path)
      if (st.isDirectory() !== isDir) return
      if (isDir && st.mode & 0o1000) return
      mode = st.mode & 0o7777
    } catch {
      return // gone meanwhile, or unreadable: nothing of ours to tighten
    }
    if ((mode & 0o077) === 0) return
    const next = mode & ~0o077
    try {
      chmodSync(path, next)
      result.changed.push({ path, from: octal(mode), to: octal(next) })
    } catch (err) {
      result.failed.push({ path, error: (err as Error).message })
    }
  }
  tighten(dataDir, true)
  let names: string[] = []
  try {
    names = readdirSync(dataDir)
  } catch {}
  for (const name of names) if (DATA_FILES.test(name)) tighten(join(dataDir, name), false)
  const backups = join(dataDir, BACKUPS_DIR)
  tighten(backups, true)
  let backupNames: string[] = []
  try {
    backupNames = readdirSync(backups)
  } catch {}
  for (const name of backupNames) tighten(join(backups, name), false)
  return result
}
