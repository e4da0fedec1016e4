/**
 * The storage interface's shape: a repository whose every method answers a promise. The SQLite
 * repositories are synchronous underneath (bun:sqlite runs in-process, and that is its speed);
 * the PostgreSQL ones are asynchronous. Services see only this shape, so they cannot tell which
 * engine serves them.
 */

/** `R` with every method returning a promise of what it returned (read-only results stay read-only). */
export type AsyncRepo<R> = {
  [K in keyof R]: R[K] extends (...args: infer A) => infer T ? (...args: A) => Promise<Awaited<T>> : never
}
