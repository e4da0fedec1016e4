/** Site settings schemas (identity verification): the single source for validation, types and the OpenAPI document. */
import { type Static, t } from 'elysia'
import { TokenQuery } from '../../http/params'

export const SiteSettings = t.Object({
  identity_required: t.Boolean({ description: 'Publishable-key callers must prove a visitor key with an identity JWT.' }),
  identity_secret_set: t.Boolean({ description: 'Whether an identity secret exists (it is shown only when created or rotated).' }),
  publishable_key: t.String(),
})
export type SiteSettings = Static<typeof SiteSettings>

export const SiteSettingsWithSecret = t.Composite([
  SiteSettings,
  t.Object({ identity_secret: t.String({ description: 'HS256 secret your backend signs identity tokens with. Shown once.' }) }),
])
export type SiteSettingsWithSecret = Static<typeof SiteSettingsWithSecret>

export const UpdateSiteSettingsBody = t.Object(
  { identity_required: t.Optional(t.Boolean({ error: 'identity_required must be true or false' })) },
  { additionalProperties: false },
)
export type UpdateSiteSettingsInput = Static<typeof UpdateSiteSettingsBody>

export const SiteSettingsActionQuery = t.Object({
  ...TokenQuery,
  action: t.Optional(t.String({ description: 'rotate_identity_secret' })),
})

/** Header a page may send the identity token in (instead of the `identity_token` body field). */
export const IDENTITY_TOKEN_HEADER = 'x-mlc-identity-token'
