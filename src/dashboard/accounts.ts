/**
 * Dashboard admins: the one way to create them (CLI `mlc admin create`, the first-run setup link),
 * to check a password, and to say which sites an admin may see. Passwords are hashed with
 * Bun.password (argon2id); unknown emails still cost one hash check so timing does not tell which
 * accounts exist.
 */
import type { Clock } from '../clock'
import { UniqueViolationError } from '../db/errors'
import type { AdminRow } from '../db/rows'
import type { Repositories, Store, TxStore } from '../db/store'
import { BadRequestError, ConflictError, NotFoundError } from '../errors'
import { randomSecret, sha256Hex } from '../random'

/** How long a first-run setup link stays valid. */
export const SETUP_LINK_TTL_MS = 60 * 60 * 1000

/**
 * A meta row written first by the transaction that creates the first admin: on PostgreSQL its row
 * lock makes a concurrent one (another setup link, another instance) wait, and then count the
 * admin the first one created. SQLite serialises write transactions anyway.
 */
const FIRST_ADMIN_LOCK = 'first_admin_lock'

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
const MIN_PASSWORD = 8
const MAX_PASSWORD = 256

// Verified against when the email is unknown, so a miss takes as long as a wrong password.
let dummyHash: Promise<string> | null = null

/** An email as stored: trimmed and lower-cased; 400 naming `email` when it is not one. */
export function normalizeEmail(raw: string): string {
  const email = raw.trim().toLowerCase()
  if (!EMAIL.test(email) || email.length > 254) throw new BadRequestError('email must be an email address like you@example.com', 'email')
  return email
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD) throw new BadRequestError(`password must be at least ${MIN_PASSWORD} characters`, 'password')
  if (password.length > MAX_PASSWORD) throw new BadRequestError(`password must be at most ${MAX_PASSWORD} characters`, 'password')
}

/**
 * An argon2id hash of a password, with OWASP's recommended minimum (19 MiB, 2 passes): Bun's
 * default of 64 MiB costs most of a second per sign-in on a small server for little gain.
 */
export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: 'argon2id', memoryCost: 19456, timeCost: 2 })
}

/** What the CLI and the dashboard show of an admin (never the hash). */
export async function presentAdmin(store: Repositories, a: AdminRow) {
  return {
    id: a.id,
    email: a.email,
    sites: a.all_sites ? ('all' as const) : await store.admins.siteIds(a.id),
    created_utc: new Date(a.created_ms).toISOString(),
    last_sign_in_utc: a.last_sign_in_ms ? new Date(a.last_sign_in_ms).toISOString() : null,
  }
}

/** Inserts an admin and its sites; run inside a transaction (`tx`). 409 naming `email` when taken. */
async function insertAdmin(tx: TxStore, clock: Clock, email: string, hash: string, siteIds: number[]): Promise<AdminRow> {
  const taken = () => new ConflictError(`An admin with email ${email} already exists.`, 'email')
  if (await tx.admins.byEmail(email)) throw taken()
  let admin: AdminRow
  try {
    admin = await tx.admins.insert(email, hash, siteIds.length === 0, clock.now())
  } catch (err) {
    // Two creations of one email at once on PostgreSQL both pass the check: the unique key decides.
    if (err instanceof UniqueViolationError) throw taken()
    throw err
  }
  for (const id of siteIds) await tx.admins.grantSite(admin.id, id)
  return admin
}

/**
 * Creates an admin. With `siteIds` the admin sees only those sites; without, every site (the
 * install's owner).
 */
export async function createAdmin(store: Store, clock: Clock, input: { email: string; password: string; siteIds?: number[] }) {
  const email = normalizeEmail(input.email)
  checkPassword(input.password)
  const siteIds = [...new Set(input.siteIds ?? [])]
  for (const id of siteIds) if (!(await store.sites.byId(id))) throw new NotFoundError(`No site with id ${id}.`, 'site')
  const hash = await hashPassword(input.password)
  return store.transaction((tx) => insertAdmin(tx, clock, email, hash, siteIds))
}

/** Checks an email and password; the admin on success, null otherwise. */
export async function verifyCredentials(store: Store, email: string, password: string): Promise<AdminRow | null> {
  const admin = EMAIL.test(email.trim()) ? await store.admins.byEmail(email.trim().toLowerCase()) : null
  if (!admin) {
    dummyHash ??= hashPassword('not-a-real-password')
    await Bun.password.verify(password, await dummyHash)
    return null
  }
  return (await Bun.password.verify(password, admin.password_hash)) ? admin : null
}

/** The ids of the sites an admin may see, lowest first. */
export async function adminSiteIds(store: Repositories, admin: AdminRow): Promise<number[]> {
  return admin.all_sites ? (await store.sites.list()).map((s) => s.id) : store.admins.siteIds(admin.id)
}

/** True when the admin may see this site. */
export async function adminCanSee(store: Repositories, admin: AdminRow, siteId: number): Promise<boolean> {
  if (admin.all_sites) return (await store.sites.byId(siteId)) !== null
  return (await store.admins.siteIds(admin.id)).includes(siteId)
}

/**
 * On an install without admins, mints a one-time setup link token (valid 1 h) and returns it;
 * null once any admin exists.
 */
export async function createSetupLink(store: Store, clock: Clock): Promise<string | null> {
  if ((await store.admins.count()) > 0) return null
  const raw = randomSecret('setup_', 24)
  const now = clock.now()
  await store.admins.insertSetupLink(sha256Hex(raw), now, now + SETUP_LINK_TTL_MS)
  return raw
}

/** True when a setup link can still be used (unused, not expired, and no admin exists yet). */
export async function setupLinkUsable(store: Store, clock: Clock, raw: string): Promise<boolean> {
  return (await store.admins.count()) === 0 && (await store.admins.setupLinkLive(sha256Hex(raw), clock.now()))
}

/** Uses a setup link to create the first admin (who sees every site). 404 when the link is spent. */
export async function createFirstAdmin(store: Store, clock: Clock, raw: string, input: { email: string; password: string }) {
  const spent = () => new NotFoundError('This setup link is used, expired, or an admin already exists. Sign in, or run `mlc admin create`.', 'token')
  if (!(await setupLinkUsable(store, clock, raw))) throw spent()
  const email = normalizeEmail(input.email)
  checkPassword(input.password)
  const hash = await hashPassword(input.password)
  return store.transaction(async (tx) => {
    await tx.meta.set(FIRST_ADMIN_LOCK, '1')
    if ((await tx.admins.count()) > 0 || !(await tx.admins.useSetupLink(sha256Hex(raw), clock.now()))) throw spent()
    return insertAdmin(tx, clock, email, hash, [])
  })
}
