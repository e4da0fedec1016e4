/** Knowledge-base article schemas. */
import { type Static, t } from 'elysia'
import { ResponseInteger } from '../../http/envelope'
import { PageQuery, TokenQuery } from '../../http/params'

/** Limits of an article. */
export const KB_LIMITS = { titleMax: 200, bodyMax: 50_000 }

const Title = t.String({ minLength: 1, maxLength: KB_LIMITS.titleMax, error: `title must be 1-${KB_LIMITS.titleMax} characters` })
const Body = t.String({ minLength: 1, maxLength: KB_LIMITS.bodyMax, error: `body must be 1-${KB_LIMITS.bodyMax} characters` })

export const KbArticle = t.Object({
  id: ResponseInteger(),
  title: t.String(),
  body: t.String(),
  passages: ResponseInteger({ description: 'How many passages the bot can reply with (paragraphs, long ones split).' }),
  created_utc: t.String(),
  updated_utc: t.String(),
})
export type KbArticle = Static<typeof KbArticle>

export const CreateKbArticleBody = t.Object({ title: Title, body: Body })
export type CreateKbArticleInput = Static<typeof CreateKbArticleBody>

export const UpdateKbArticleBody = t.Object({ title: t.Optional(Title), body: t.Optional(Body) })
export type UpdateKbArticleInput = Static<typeof UpdateKbArticleBody>

export const DeletedKbArticle = t.Object({ id: ResponseInteger(), deleted: t.Literal(true) })

export const ListKbArticlesQuery = t.Object({
  ...TokenQuery,
  ...PageQuery,
  q: t.Optional(t.String({ maxLength: 500, description: 'Search: articles best matching these words (BM25), best first; no pagination.' })),
})
