/**
 * Backup and restore of a data dir's database. A backup is `VACUUM INTO` from a read
 * transaction: one consistent snapshot, taken while the server keeps writing (WAL lets readers
 * and the writer run together), compacted, in a single self-contained file. A restore checks the
 * file, takes the data dir lock (so it never swaps the database under a running server), keeps
 * the current database aside, and moves the backup into place.
 */
import { Database } from 'bun:sqlite'
import { chmodSync, chownSync, copyFileSync, existsSync, renameSync, rmSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { SchemaTooNewError } from '../errors'
import { ensurePrivateFile, PRIVATE_FILE_MODE } from './file-modes'
import { lockDataDir } from './lock'
import { latestSchemaVersion } from './migrate'
import { databasePath } from './open'

/** A backup or restore that cannot proceed; the message says why and what to do. */
export class BackupError extends Error {}

/** Schema version recorded in an open database (0 when it has no migrations table). */
function schemaVersionOf(db: Database): number {
  const table = db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get()
  if (!table?.n) return 0
  return db.query<{ v: number | null }, []>('SELECT MAX(version) AS v FROM schema_migrations').get()?.v ?? 0
}

/** Copies the data dir's database to `file` as one consistent snapshot; safe while the server runs. */
export function backupDatabase(dataDir: string, file: string, opts: { force?: boolean } = {}): { file: string; bytes: number; schemaVersion: number } {
  const source = databasePath(dataDir)
  if (!existsSync(source)) throw new BackupError(`no database at ${source}; check --data-dir / MLC_DATA_DIR`)
  const target = resolve(file)
  if (existsSync(target) && !opts.force) throw new BackupError(`${target} already exists; choose another name or pass --force to replace it`)
  if (!existsSync(dirname(target))) throw new BackupError(`the folder ${dirname(target)} does not exist`)
  // Write next to the target and rename: a backup file is either complete or absent.
  const partial = join(dirname(target), `.${basename(target)}.partial-${process.pid}`)
  rmSync(partial, { force: true })
  const db = new Database(source, { readonly: true })
  try {
    db.exec('PRAGMA busy_timeout = 5000')
    const schemaVersion = schemaVersionOf(db)
    // The copy holds every secret the database does: born 0600 (VACUUM INTO fills an empty file),
    // as private as the data dir, wherever it is written.
    ensurePrivateFile(partial)
    db.query('VACUUM INTO ?').run(partial)
    renameSync(partial, target)
    return { file: target, bytes: statSync(target).size, schemaVersion }
  } catch (err) {
    rmSync(partial, { force: true })
    throw err
  } finally {
    db.close()
  }
}

/** Checks that `file` is an intact mlc database this binary can run; returns its schema version. */
export function checkBackup(file: string): number {
  if (!existsSync(file)) throw new BackupError(`${file} does not exist`)
  let db: Database
  try {
    db = new Database(file, { readonly: true })
  } catch (err) {
    throw new BackupError(`${file} cannot be opened as a database: ${(err as Error).message}`)
  }
  try {
    let verdict: string
    try {
      verdict = db.query<{ integrity_check: string }, []>('PRAGMA integrity_check').all()[0]?.integrity_check ?? 'no answer'
    } catch (err) {
      throw new BackupError(`${file} is not an mlc backup: ${(err as Error).message}`)
    }
    if (verdict !== 'ok') throw new BackupError(`${file} is damaged (integrity check: ${verdict})`)
    const version = schemaVersionOf(db)
    if (version === 0) throw new BackupError(`${file} is not an mlc backup (no schema_migrations table)`)
    const latest = latestSchemaVersion()
    if (version > latest) {
      throw new SchemaTooNewError(`${file} has schema version ${version}, newer than this mlc knows (${latest}). Restore it with a newer mlc binary.`)
    }
    return version
  } finally {
    db.close()
  }
}

/**
 * Replaces the data dir's database with `file`. Refuses while a server holds the data dir. The
 * database it replaces is kept as `mlc.db.pre-restore-<stamp>` (returned as `previous`).
 */
export function restoreDatabase(dataDir: string, file: string, stamp: string): { schemaVersion: number; previous: string | null } {
  const source = resolve(file)
  const schemaVersion = checkBackup(source)
  const lock = lockDataDir(dataDir, 'cannot restore')
  try {
    const target = databasePath(dataDir)
    // Run as root (sudo), the restored file would belong to root and the service user could not
    // write it: give it the owner of the database it replaces, or of the data dir.
    const owner = statSync(existsSync(target) ? target : dataDir)
    let previous: string | null = null
    if (existsSync(target)) {
      previous = `${target}.pre-restore-${stamp}`
      try {
        // A snapshot of the current database including what still sits in its WAL.
        const current = new Database(target, { readonly: true })
        try {
          ensurePrivateFile(previous)
          current.query('VACUUM INTO ?').run(previous)
        } finally {
          current.close()
        }
      } catch {
        // Unreadable current database: keep its files as they are.
        rmSync(previous, { force: true })
        renameSync(target, previous)
        if (existsSync(`${target}-wal`)) renameSync(`${target}-wal`, `${previous}-wal`)
      }
    }
    const incoming = `${target}.restoring`
    copyFileSync(source, incoming)
    // The copy takes the backup's mode; the database is private (the data dir is 0700 meanwhile).
    chmodSync(incoming, PRIVATE_FILE_MODE)
    if (process.getuid?.() === 0 && owner.uid !== 0) chownSync(incoming, owner.uid, owner.gid)
    for (const f of [target, `${target}-wal`, `${target}-shm`]) rmSync(f, { force: true })
    renameSync(incoming, target)
    return { schemaVersion, previous }
  } finally {
    lock.release()
  }
}
