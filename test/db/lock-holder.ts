/**
 * Holding a `TxStore.lock` from a transaction of the test's own, to interleave a request with it
 * deterministically: the holder takes the lock, makes its change, and stays open until the test
 * releases it (committing) or aborts it (rolling back). On SQLite the holder's open transaction
 * keeps every other transaction of the store waiting, which is that engine's serialisation.
 */
import type { Store, TxStore } from '../../src/db/store'

export interface LockHolder {
  /** Ends the holder's transaction: COMMIT, or ROLLBACK with `{ rollback: true }`. */
  release(opts?: { rollback?: boolean }): void
  /** Settles once the holder's transaction has ended (rejects only for an unexpected failure). */
  done: Promise<void>
}

class HolderRolledBack extends Error {}

/**
 * Opens a transaction on `store`, takes `key`, runs `during` inside it, and resolves once both are
 * done, with the transaction still open.
 */
export async function holdLock(store: Store, key: string, during?: (tx: TxStore) => Promise<unknown>): Promise<LockHolder> {
  let release: (rollback: boolean) => void = () => {}
  const released = new Promise<boolean>((resolve) => {
    release = resolve
  })
  let ready: () => void = () => {}
  const held = new Promise<void>((resolve) => {
    ready = resolve
  })
  const transaction = store.transaction(async (tx) => {
    await tx.lock(key)
    await during?.(tx)
    ready()
    if (await released) throw new HolderRolledBack()
  })
  const done = transaction.then(
    () => {},
    (err) => {
      if (!(err instanceof HolderRolledBack)) throw err
    },
  )
  // A failure before the lock was held (the lock itself, `during`) fails the caller at once.
  await Promise.race([held, done.then(() => Promise.reject(new Error('the holder transaction ended before holding the lock')))])
  return { release: (opts = {}) => release(opts.rollback === true), done }
}

/** True when `promise` settles (either way) within `ms`. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}
