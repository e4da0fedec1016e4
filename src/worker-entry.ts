/**
 * Where a worker thread's module is: in the source tree when running from source, or its copy
 * embedded in a binary built by scripts/build.ts (which lists every worker as an extra entry point).
 */
import { existsSync } from 'node:fs'

/**
 * The module to start a `Worker` from. `srcPath` is the worker's path under `src/` without the
 * extension (`webhooks/worker`); `what` names it in the error when a binary lacks it.
 */
export function workerEntry(srcPath: string, what: string): string {
  // A binary is told apart by its main module, which lives in the embedded file system. Not by
  // import.meta.url: with --bytecode that is the path the source had on the build machine, where
  // the binary would find the source's worker, and nowhere else.
  if (!isCompiled()) return new URL(`./${srcPath}.ts`, import.meta.url).href
  // `bun build --compile` embeds extra entry points relative to the entry points' common folder.
  const candidates = [`/$bunfs/root/${srcPath}.js`, `/$bunfs/root/src/${srcPath}.js`]
  const found = candidates.find((p) => existsSync(p))
  if (!found) throw new Error(`the ${what} is missing from this binary: build it with scripts/build.ts`)
  return found
}

/** Whether this process runs from a binary built by `bun build --compile`. */
export function isCompiled(): boolean {
  return Bun.main.startsWith('/$bunfs/') || Bun.main.startsWith('B:/~BUN/')
}
