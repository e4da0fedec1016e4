/** Admin accounts and setup links: validation, argon2id hashes, site scoping, the one-time 1 h link. */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { adminCanSee, adminSiteIds, createAdmin, createFirstAdmin, createSetupLink, setupLinkUsable, verifyCredentials } from '../../src/dashboard/accounts'
import { ApiError } from '../../src/errors'
import { createTestApp, type TestApp } from '../helpers'

let t: TestApp
beforeEach(async () => {
  t = await createTestApp()
})
afterEach(() => t.cleanup())

async function rejects(p: Promise<unknown>, status: number, param?: string): Promise<string> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).status).toBe(status)
    if (param) expect((err as ApiError).param).toBe(param)
    return (err as ApiError).message
  }
  throw new Error('expected a rejection')
}

describe('createAdmin', () => {
  test('stores an argon2id hash, never the password, and a lower-cased email', async () => {
    const a = await createAdmin(t.store, t.clock, { email: ' Jay@Example.COM ', password: 'hunter2hunter2' })
    expect(a.email).toBe('jay@example.com')
    expect(a.password_hash).toStartWith('$argon2id$')
    expect(a.password_hash).not.toContain('hunter2')
    expect(await verifyCredentials(t.store, 'JAY@example.com', 'hunter2hunter2')).toMatchObject({ id: a.id })
    expect(await verifyCredentials(t.store, 'jay@example.com', 'hunter2hunter3')).toBeNull()
    expect(await verifyCredentials(t.store, 'nobody@example.com', 'hunter2hunter2')).toBeNull()
    expect(await verifyCredentials(t.store, 'not an email', 'hunter2hunter2')).toBeNull()
  })

  test('bad input is a 400 naming the field; a taken email a 409; an unknown site a 404', async () => {
    expect(await rejects(createAdmin(t.store, t.clock, { email: 'nope', password: 'long enough' }), 400, 'email')).toContain('email')
    expect(await rejects(createAdmin(t.store, t.clock, { email: 'a@b.co', password: 'short' }), 400, 'password')).toContain('at least 8')
    await rejects(createAdmin(t.store, t.clock, { email: 'a@b.co', password: 'x'.repeat(257) }), 400, 'password')
    await createAdmin(t.store, t.clock, { email: 'a@b.co', password: 'long enough' })
    await rejects(createAdmin(t.store, t.clock, { email: 'A@B.CO', password: 'long enough' }), 409, 'email')
    await rejects(createAdmin(t.store, t.clock, { email: 'c@b.co', password: 'long enough', siteIds: [999] }), 404, 'site')
  })

  test('an admin with sites sees only those; one without sees every site', async () => {
    const scoped = await createAdmin(t.store, t.clock, { email: 'scoped@example.com', password: 'long enough', siteIds: [t.site2] })
    const owner = await createAdmin(t.store, t.clock, { email: 'owner@example.com', password: 'long enough' })
    expect(await adminSiteIds(t.store, scoped)).toEqual([t.site2])
    expect(await adminCanSee(t.store, scoped, t.site1)).toBe(false)
    expect(await adminCanSee(t.store, scoped, t.site2)).toBe(true)
    expect(await adminSiteIds(t.store, owner)).toEqual([t.site1, t.site2])
    expect(await adminCanSee(t.store, owner, 999)).toBe(false)
  })
})

describe('setup links', () => {
  test('a link works once, creates an owner, and no link is made once an admin exists', async () => {
    const link = (await createSetupLink(t.store, t.clock)) as string
    expect(link).toStartWith('setup_')
    expect(await setupLinkUsable(t.store, t.clock, link)).toBe(true)
    expect(await setupLinkUsable(t.store, t.clock, 'setup_guess')).toBe(false)
    const admin = await createFirstAdmin(t.store, t.clock, link, { email: 'first@example.com', password: 'long enough' })
    expect(admin.all_sites).toBe(1)
    await rejects(createFirstAdmin(t.store, t.clock, link, { email: 'second@example.com', password: 'long enough' }), 404, 'token')
    expect(await createSetupLink(t.store, t.clock)).toBeNull()
  })

  test('a link expires after one hour; a second unused link dies once an admin exists', async () => {
    const early = (await createSetupLink(t.store, t.clock)) as string
    t.clock.advance(60 * 60 * 1000 - 1)
    expect(await setupLinkUsable(t.store, t.clock, early)).toBe(true)
    t.clock.advance(1)
    expect(await setupLinkUsable(t.store, t.clock, early)).toBe(false)
    await rejects(createFirstAdmin(t.store, t.clock, early, { email: 'late@example.com', password: 'long enough' }), 404)

    const a = (await createSetupLink(t.store, t.clock)) as string
    const b = (await createSetupLink(t.store, t.clock)) as string
    await createFirstAdmin(t.store, t.clock, a, { email: 'a@example.com', password: 'long enough' })
    expect(await setupLinkUsable(t.store, t.clock, b)).toBe(false)
    expect(await t.store.admins.count()).toBe(1)
  })

  test('bad input on the setup form leaves the link usable', async () => {
    const link = (await createSetupLink(t.store, t.clock)) as string
    await rejects(createFirstAdmin(t.store, t.clock, link, { email: 'x', password: 'long enough' }), 400, 'email')
    expect(await setupLinkUsable(t.store, t.clock, link)).toBe(true)
  })
})
