/**
 * PostgreSQL errors in the engines' common words: real server errors (a duplicate key, a statement
 * timeout, a refused connection) and each mapped SQLSTATE class, plus what must pass unchanged.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { SQL } from 'bun'
import { StorageUnavailableError, UniqueViolationError } from '../../../src/db/errors'
import { openPostgres } from '../../../src/db/postgres/connection'
import { fromPostgresError, mappingPostgresErrors, withPostgresErrors } from '../../../src/db/postgres/errors'
import { createPostgresSiteRepo } from '../../../src/db/postgres/sites'
import { createPostgresTagRepo } from '../../../src/db/postgres/tags'
import { freshPostgresDatabase, TEST_DATABASE_URL, type TestDatabase } from './harness'

/** A server error as Bun.sql raises it, with the SQLSTATE `errno`. */
function serverError(errno: string, message = 'server said no'): SQL.PostgresError {
  return new SQL.PostgresError(message, { code: 'ERR_POSTGRES_SERVER_ERROR', errno })
}

describe('PostgreSQL error codes mapped', () => {
  test.each([
    ['40001', 'conflict', true],
    ['40P01', 'conflict', true],
    ['57014', 'timeout', false],
    ['08000', 'connection', false],
    ['08006', 'connection', false],
    ['57P01', 'connection', false],
    ['57P03', 'connection', false],
    ['53100', 'resources', false],
    ['53200', 'resources', false],
    ['53300', 'resources', false],
  ])('SQLSTATE %s is unavailable (%s), retryable: %p', (errno, reason, retryable) => {
    const original = serverError(errno)
    const mapped = fromPostgresError(original) as StorageUnavailableError
    expect(mapped).toBeInstanceOf(StorageUnavailableError)
    expect(mapped.reason).toBe(reason as StorageUnavailableError['reason'])
    expect(mapped.retryable).toBe(retryable)
    expect(mapped.cause).toBe(original)
  })

  test.each(['ERR_POSTGRES_CONNECTION_CLOSED', 'ERR_POSTGRES_CONNECTION_REFUSED', 'ERR_POSTGRES_CONNECTION_TIMEOUT', 'ERR_POSTGRES_IDLE_TIMEOUT'])(
    "Bun's %s is a lost connection",
    (code) => {
      const mapped = fromPostgresError(new SQL.PostgresError('gone', { code }))
      expect(mapped).toBeInstanceOf(StorageUnavailableError)
      expect((mapped as StorageUnavailableError).reason).toBe('connection')
    },
  )

  test('a unique violation names its constraint and columns, not the values', () => {
    const original = new SQL.PostgresError('duplicate key value violates unique constraint "tags_site_id_name_key"', {
      code: 'ERR_POSTGRES_SERVER_ERROR',
      errno: '23505',
      constraint: 'tags_site_id_name_key',
      detail: 'Key (site_id, name)=(1, secret) already exists.',
    })
    const mapped = fromPostgresError(original) as UniqueViolationError
    expect(mapped).toBeInstanceOf(UniqueViolationError)
    expect(mapped.constraint).toBe('tags_site_id_name_key')
    expect(mapped.columns).toEqual(['site_id', 'name'])
    expect(mapped.message).not.toContain('secret')
    expect(mapped.name).toBe('UniqueViolationError')
  })

  test('bugs and other constraints pass through unchanged', () => {
    for (const err of [serverError('23503'), serverError('42601'), serverError('22012'), new Error('plain'), 'a string', null]) {
      expect(fromPostgresError(err)).toBe(err)
    }
  })
})

describe.skipIf(!TEST_DATABASE_URL)('PostgreSQL errors from a real server', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await freshPostgresDatabase()
    await createPostgresSiteRepo(db.sql).insert('one', 'free', null, 'pk_one', 1000)
  })
  afterAll(() => db?.drop())

  test('a duplicate tag name is a UniqueViolationError through withPostgresErrors', async () => {
    const tags = withPostgresErrors(createPostgresTagRepo(db.sql))
    await tags.insert(1, 'billing', '#000000', 1000)
    const err = await tags.insert(1, 'billing', '#ffffff', 1001).catch((x: unknown) => x)
    expect(err).toBeInstanceOf(UniqueViolationError)
    expect((err as UniqueViolationError).columns).toEqual(['site_id', 'name'])
    // What works still answers as before.
    expect(await tags.byName(1, 'billing')).toMatchObject({ id: 1, color: '#000000' })
  })

  test('a statement past the timeout is unavailable (timeout)', async () => {
    const err = await mappingPostgresErrors(() =>
      db.sql.begin(async (tx) => {
        await tx`SET LOCAL statement_timeout = 50`
        await tx`SELECT pg_sleep(2)`
      }),
    ).catch((x: unknown) => x)
    expect(err).toBeInstanceOf(StorageUnavailableError)
    expect((err as StorageUnavailableError).reason).toBe('timeout')
  })

  test('a server that does not answer is unavailable (connection)', async () => {
    const url = new URL(TEST_DATABASE_URL as string)
    url.port = '1' // nothing listens on port 1 of loopback
    const down = openPostgres({ url: url.toString(), poolSize: 1, statementTimeoutMs: 1000, prepare: false })
    try {
      const err = await mappingPostgresErrors(() => down`SELECT 1`).catch((x: unknown) => x)
      expect(err).toBeInstanceOf(StorageUnavailableError)
      expect((err as StorageUnavailableError).reason).toBe('connection')
    } finally {
      await down.close()
    }
  })
})
