/** The identity-verification flags of `mlc site update`: --identity-required on|off, --rotate-identity-secret. */
import type { Store } from '../db/store'
import { getSiteSettings, rotateIdentitySecret, updateSiteSettings } from '../modules/site-settings/service'
import { UsageError } from './args'

/** Applies the flags to a site; returns the fields to print and text lines (the secret is shown once). */
export async function applyIdentityFlags(
  store: Store,
  siteId: number,
  values: Record<string, unknown>,
): Promise<{ fields: Record<string, unknown>; lines: string[] }> {
  const raw = values['identity-required']
  const rotate = Boolean(values['rotate-identity-secret'])
  if (raw === undefined && !rotate) return { fields: {}, lines: [] }
  let required: boolean | undefined
  if (raw !== undefined) {
    if (raw === 'on') required = true
    else if (raw === 'off') required = false
    else throw new UsageError(`--identity-required must be on or off, got "${String(raw)}"`)
  }
  let secret: string | undefined = rotate ? (await rotateIdentitySecret(store, siteId)).identity_secret : undefined
  if (required !== undefined) secret = (await updateSiteSettings(store, siteId, { identity_required: required })).identity_secret ?? secret
  const settings = await getSiteSettings(store, siteId)
  const lines = [`identity verification: ${settings.identity_required ? 'required' : 'off'}`]
  if (secret) lines.push(`identity secret (shown once; sign visitor JWTs with it, HS256): ${secret}`)
  return { fields: { identity_required: settings.identity_required, ...(secret ? { identity_secret: secret } : {}) }, lines }
}
