/**
 * The data dir, for the server and the CLI: its lock (one process serves a data dir at a time),
 * its file modes (private to the user mlc runs as), where the embedded database lives in it, and
 * the backup and restore of that database. These are the SQLite engine's files (src/db/sqlite/);
 * this module names what code above src/db/ may use of them.
 */
export { BackupError, backupDatabase, restoreDatabase } from './sqlite/backup'
export { PRIVATE_UMASK, tightenDataDir } from './sqlite/file-modes'
export { type DataDirLock, DataDirLockedError, lockDataDir } from './sqlite/lock'
export { databasePath } from './sqlite/open'
