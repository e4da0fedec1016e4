/**
 * Statements prepared on first use. The store's repositories declare ~165 statements up front;
 * preparing them all took ~10 ms of every start, most of them for routes a given process may
 * never serve. `prepareAll()` prepares every one declared so far (tests: a typo in any SQL
 * still fails the suite, not the first request that needs it).
 */
import type { Database, Statement } from 'bun:sqlite'

type AnyStatement = Statement<unknown, never[]>

/** A statement that is prepared the first time it runs; same get/all/run/values/iterate. */
class LazyStatement {
  #prepared: AnyStatement | null = null

  constructor(
    private readonly db: Database,
    readonly sql: string,
  ) {}

  /** The prepared statement (prepared now if it was not yet). */
  prepared(): AnyStatement {
    if (this.#prepared === null) this.#prepared = this.db.prepare(this.sql) as AnyStatement
    return this.#prepared
  }

  get(...params: never[]) {
    return this.prepared().get(...params)
  }

  all(...params: never[]) {
    return this.prepared().all(...params)
  }

  run(...params: never[]) {
    return this.prepared().run(...params)
  }

  values(...params: never[]) {
    return this.prepared().values(...params)
  }

  iterate(...params: never[]) {
    return this.prepared().iterate(...params)
  }

  finalize() {
    this.#prepared?.finalize()
    this.#prepared = null
  }
}

/**
 * `db` with `query()` and `prepare()` returning lazy statements; every other property is the
 * database's own. Pass it to code that prepares statements when it is built.
 */
export function withLazyStatements(db: Database): Database & { prepareAll(): void } {
  const declared: LazyStatement[] = []
  const lazy = (sql: string) => {
    const s = new LazyStatement(db, sql)
    declared.push(s)
    return s
  }
  const prepareAll = () => {
    for (const s of declared) s.prepared()
  }
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'query' || prop === 'prepare') return lazy
      if (prop === 'prepareAll') return prepareAll
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  }) as Database & { prepareAll(): void }
}
