/**
 * Site settings, for now identity verification: whether publishable-key callers must prove the
 * visitor key they claim with an HS256 JWT signed by the site's identity secret, the secret's
 * rotation, and the verification itself (with `jose`).
 */
import { errors as joseErrors, jwtVerify } from 'jose'
import { siteLock } from '../../db/lock-keys'
import type { Repositories, Store, TxStore } from '../../db/store'
import { NotFoundError, UnauthorizedError } from '../../errors'
import { randomSecret } from '../../random'
import type { SiteSettings, SiteSettingsWithSecret, UpdateSiteSettingsInput } from './model'

async function load(store: Repositories, siteId: number) {
  const row = await store.siteIdentity.get(siteId)
  if (!row) throw new NotFoundError(`No site with id ${siteId}.`, 'id')
  return row
}

function present(row: { publishable_key: string; identity_required: number; identity_secret: string | null }): SiteSettings {
  return { identity_required: row.identity_required === 1, identity_secret_set: row.identity_secret !== null, publishable_key: row.publishable_key }
}

/** The site's settings. */
export async function getSiteSettings(store: Store, siteId: number): Promise<SiteSettings> {
  return present(await load(store, siteId))
}

/** Rotates the identity secret: tokens signed with the old one stop verifying at once. Returns the new secret (shown once). */
export async function rotateIdentitySecret(store: Store | TxStore, siteId: number): Promise<SiteSettingsWithSecret> {
  await load(store, siteId)
  const secret = randomSecret('mlcid_', 32)
  const row = await store.siteIdentity.setSecret(siteId, secret)
  if (!row) throw new NotFoundError(`No site with id ${siteId}.`, 'id')
  return { ...present(row), identity_secret: secret }
}

/**
 * Changes settings. Turning verification on for a site without a secret creates one and returns
 * it (once), since requiring tokens nobody can sign would lock every identified visitor out.
 */
export async function updateSiteSettings(store: Store, siteId: number, input: UpdateSiteSettingsInput): Promise<SiteSettings & { identity_secret?: string }> {
  return store.transaction(async (tx) => {
    // Under the site's lock, so of two requests turning verification on at once only the first
    // creates a secret; the second waits and sees it. (The flag is still written before the secret
    // is looked at, answering the row's current state.)
    await tx.lock(siteLock(siteId))
    let row = await load(tx, siteId)
    if (input.identity_required !== undefined) row = (await tx.siteIdentity.setRequired(siteId, input.identity_required)) ?? row
    if (input.identity_required === true && row.identity_secret === null) return rotateIdentitySecret(tx, siteId)
    return present(row)
  })
}

function reason(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the identity token has expired'
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'sub') return 'the identity token was issued for another visitor (sub does not match the key)'
    if (err.claim === 'exp') return 'the identity token needs an exp claim'
    return `the identity token's ${err.claim} claim is invalid`
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "the identity token's signature does not match the site's identity secret"
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'the identity token must be signed with HS256'
  return 'the identity token is not a valid JWT'
}

/**
 * For a publishable-key caller: when the site requires identity verification, each claimed key
 * must be the `sub` of a valid HS256 JWT (exp required) signed with the site's identity secret.
 * Throws 401 with the reason otherwise. Sites that do not require it pass everything.
 */
export async function verifyClaimedKeys(store: Store, siteId: number, keys: string[], token: string | null | undefined, nowMs: number): Promise<void> {
  if (keys.length === 0) return
  const row = await load(store, siteId)
  if (row.identity_required !== 1) return
  const fail = (why: string) => {
    throw new UnauthorizedError(
      `This site requires identity verification: ${why}. Send identity_token (or the X-MLC-Identity-Token header), an HS256 JWT your backend signs with the site's identity secret, with sub = the visitor key and exp.`,
    )
  }
  if (!token) fail('no identity token was sent')
  if (!row.identity_secret) fail('the site has no identity secret yet (rotate one)')
  const distinct = [...new Set(keys)]
  if (distinct.length > 1) fail('one request may only identify one visitor key')
  try {
    await jwtVerify(token as string, new TextEncoder().encode(row.identity_secret as string), {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
      subject: distinct[0],
      currentDate: new Date(nowMs),
    })
  } catch (err) {
    fail(reason(err))
  }
}
