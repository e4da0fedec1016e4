/** Limits shared by the checkpoint thread and its owner (a module without a thread entry, safe to import anywhere). */

/**
 * WAL frames (4 KiB pages) after which a tick restarts the WAL even while writes continue: ~256 MB.
 * Below it the WAL needs no help: once a tick has copied every frame, the next writer starts the
 * file from its beginning by itself, and readers read the database file directly. Under a
 * sustained write load a tick never quite catches up, so the WAL grows; a RESTART then holds the
 * write lock while it copies the newest frames and fsyncs (5-20 ms on a 2-core VM). Doing that on
 * every tick, as this thread did, stalled the writer on every tick: track p99 was 12-22 ms.
 */
export const FORCED_RESTART_FRAMES = 65_536
