/**
 * Opens the SQLite database with the pragmas every connection needs, in a fixed order:
 * WAL so readers never block the writer, a busy timeout so the CLI, the server and the webhook
 * worker can share the file, foreign keys on, and a page cache sized for a server.
 */
import { constants, Database } from 'bun:sqlite'
import { dirname, join } from 'node:path'
import { ensurePrivateDir, ensurePrivateFile } from './file-modes'

/** The database file inside a data dir. */
export function databasePath(dataDir: string): string {
  return join(dataDir, 'mlc.db')
}

/** Opens (creating if needed) the database at `path` and applies the connection pragmas. */
export function openDatabase(path: string, opts: { readonly?: boolean } = {}): Database {
  const onDisk = !opts.readonly && path !== ':memory:'
  if (onDisk) {
    // Secrets live in this file: a private folder, and the file made 0600 before SQLite opens it
    // (its -wal and -shm take the same mode).
    ensurePrivateDir(dirname(path))
    ensurePrivateFile(path)
  }
  const db = new Database(path, opts.readonly ? { readonly: true } : { create: true, readwrite: true, strict: true })
  // Keep -wal and -shm when the last connection closes. Reading a WAL database needs its -shm
  // file, and creating one needs free space: with the file kept, a server restarted on a full disk
  // still serves reads (writes answer 503 until space returns). The checkpoint thread empties the
  // WAL file on a clean stop.
  if (onDisk) db.fileControl(constants.SQLITE_FCNTL_PERSIST_WAL, 1)
  db.exec('PRAGMA busy_timeout = 5000')
  if (!opts.readonly) {
    // NORMAL in WAL mode: a committed transaction survives a crash of the process; only an OS
    // crash or power loss can drop the last commits. The same trade-off PocketBase makes.
    // Set before WAL: turning a new, empty file into WAL then skips three fsyncs (~10 ms of a
    // first start); on an existing database the switch is a no-op.
    db.exec('PRAGMA synchronous = NORMAL')
    db.exec('PRAGMA journal_mode = WAL')
  }
  db.exec('PRAGMA foreign_keys = ON')
  // A 16 MB page cache (SQLite's default is 2 MB, PocketBase uses the same 16 MB): inserts into
  // the random-key indexes (visitor keys, event ids) otherwise re-read evicted index pages from
  // the OS on every track once the database outgrows 2 MB. It fills only with pages in use.
  db.exec('PRAGMA cache_size = -16000')
  db.exec('PRAGMA temp_store = MEMORY')
  // No journal_size_limit: with one, the first commit after a WAL restart truncates the file on
  // the request path (ftruncate of a 256 MB WAL took ~120 ms here). The checkpoint thread trims
  // the WAL instead, at a moment without writes (src/db/sqlite/checkpoint-worker.ts).
  return db
}
