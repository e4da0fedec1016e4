/** `site_settings`: the calling site's identity-verification setting and secret rotation. */
import { Elysia, t } from 'elysia'
import { BadRequestError } from '../../errors'
import type { ModuleDeps } from '../../http/deps'
import { Envelope, ok, responses } from '../../http/envelope'
import { TokenQuery } from '../../http/params'
import { SiteSettings, SiteSettingsActionQuery, SiteSettingsWithSecret, UpdateSiteSettingsBody } from './model'
import { getSiteSettings, rotateIdentitySecret, updateSiteSettings } from './service'

const detail = { tags: ['site_settings'], security: [{ bearer: [] }] }

/** The site settings controller. */
export function siteSettingsModule({ auth, store }: ModuleDeps) {
  return new Elysia({ prefix: '/v1/site_settings' })
    .use(auth)
    .get('/', async ({ principal, set }) => ok(set, await getSiteSettings(store, principal.siteId)), {
      query: t.Object(TokenQuery),
      response: responses({ 200: Envelope(SiteSettings) }, [403]),
      detail: { ...detail, summary: 'Get site settings', description: 'Whether identity verification is required, and the publishable key.' },
    })
    .patch('/', async ({ principal, body, set }) => ok(set, await updateSiteSettings(store, principal.siteId, body)), {
      query: t.Object(TokenQuery),
      body: UpdateSiteSettingsBody,
      response: responses({ 200: Envelope(t.Union([SiteSettingsWithSecret, SiteSettings])) }, [400, 403, 413]),
      detail: {
        ...detail,
        summary: 'Update site settings',
        description:
          'Needs write scope. `identity_required: true` makes publishable-key callers prove claimed visitor keys with an identity JWT; when the site had no identity secret, one is created and returned once as `identity_secret`.',
      },
    })
    .post(
      '/',
      async ({ principal, query, set }) => {
        if (query.action !== 'rotate_identity_secret') {
          throw new BadRequestError('action must be rotate_identity_secret: POST /v1/site_settings?action=rotate_identity_secret', 'action')
        }
        return ok(set, await rotateIdentitySecret(store, principal.siteId))
      },
      {
        query: SiteSettingsActionQuery,
        response: responses({ 200: Envelope(SiteSettingsWithSecret) }, [400, 403]),
        detail: {
          ...detail,
          operationId: 'rotateIdentitySecret',
          summary: 'Rotate the identity secret',
          description: 'Needs write scope. `?action=rotate_identity_secret`: a new secret, shown once; tokens signed with the old one stop verifying at once.',
        },
      },
    )
}
