/**
 * A route schema as the OpenAPI document publishes it: JSON Schema 2020-12 and OpenAPI keywords
 * only, the same whatever requests the app has served. Our TypeBox schemas carry Elysia's `error` (the validator's custom message) and the
 * string branch of Elysia's request coercions; validators keep both, the document keeps neither
 * (code generators and linters refuse unknown keywords, and a client should send the number).
 */

/** JSON Schema 2020-12 keywords (core, applicator, unevaluated, validation, meta-data, format, content) and OpenAPI 3.1's own. */
const KEYWORDS = new Set([
  '$schema',
  '$ref',
  '$anchor',
  '$dynamicRef',
  '$dynamicAnchor',
  '$vocabulary',
  '$comment',
  '$defs',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'if',
  'then',
  'else',
  'dependentSchemas',
  'prefixItems',
  'items',
  'contains',
  'properties',
  'patternProperties',
  'additionalProperties',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
  'type',
  'enum',
  'const',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxContains',
  'minContains',
  'maxProperties',
  'minProperties',
  'required',
  'dependentRequired',
  'title',
  'description',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
  'examples',
  'format',
  'contentEncoding',
  'contentMediaType',
  'contentSchema',
  'discriminator',
  'xml',
  'externalDocs',
  'example',
])

/** Keywords whose value is a schema, a list of schemas, or a map of names to schemas. */
const ONE_SCHEMA = new Set([
  'not',
  'if',
  'then',
  'else',
  'items',
  'contains',
  'additionalProperties',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contentSchema',
])
const SCHEMA_LIST = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems'])
const SCHEMA_MAP = new Set(['$defs', 'properties', 'patternProperties', 'dependentSchemas'])

/** String formats of Elysia's coercions (`t.Integer`, `t.Numeric`, `t.BooleanString`, our RequestInteger). */
const COERCED_FORMATS = new Set(['integer', 'numeric', 'boolean'])

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type SchemaObject = { [key: string]: Json }

/** A published copy of `schema`: unknown keywords dropped (`x-` extensions kept), coercions shown as their typed form. */
export function publishedSchema(schema: unknown): Json {
  return clean((schema ?? {}) as Json)
}

/**
 * A value kept as it is (`enum`, `const`, `default`, `examples`...), copied as JSON would copy it:
 * TypeBox's symbol keys, functions and undefined are not part of a schema. Done in place of a
 * JSON.stringify + JSON.parse of every schema, whose garbage (~8 MB while the document is first
 * built) stayed in the process's resident memory.
 */
function plain(value: unknown): Json | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') return Number.isFinite(value) ? value : null
  if (Array.isArray(value)) return value.map((v) => plain(v) ?? null)
  if (typeof value !== 'object') return undefined
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return plain((value as { toJSON(): unknown }).toJSON())
  const out: SchemaObject = {}
  for (const [key, v] of Object.entries(value)) {
    const copied = plain(v)
    if (copied !== undefined) out[key] = copied
  }
  return out
}

function clean(schema: Json): Json {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return plain(schema) ?? null
  const out: SchemaObject = {}
  for (const [key, value] of Object.entries(schema)) {
    if (!KEYWORDS.has(key) && !key.startsWith('x-')) continue
    // Elysia writes `additionalProperties: false` into a route's schema when it compiles the route's
    // validator (on its first request), so the document would change with traffic. Left out: the
    // API ignores unknown request fields (Elysia cleans them) and sends no undeclared ones.
    if (key === 'additionalProperties' && value === false) continue
    if (value === undefined || typeof value === 'function') continue
    if (ONE_SCHEMA.has(key)) out[key] = clean(value)
    else if (SCHEMA_LIST.has(key) && Array.isArray(value)) out[key] = value.map(clean)
    else if (SCHEMA_MAP.has(key) && value && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, clean(sub)]))
    } else {
      const copied = plain(value)
      if (copied !== undefined) out[key] = copied
    }
  }
  return withNullInEnum(uncoerced(out))
}

/**
 * `t.Union([t.Union([t.Literal('a'), ...]), t.Null()])` comes out of @elysiajs/openapi as
 * `{ type: ['string', 'null'], enum: ['a', ...] }`: null is in `type` but not in `enum`, so the
 * document would reject the null our validator accepts and the API answers. It goes in `enum` too.
 */
function withNullInEnum(schema: SchemaObject): SchemaObject {
  const nullable = schema.type === 'null' || (Array.isArray(schema.type) && schema.type.includes('null'))
  if (!nullable || !Array.isArray(schema.enum) || schema.enum.includes(null)) return schema
  return { ...schema, enum: [...schema.enum, null] }
}

/**
 * `{ anyOf: [{ type: 'string', format: 'integer' }, { type: 'integer', minimum: 1 }], minimum: 1 }`,
 * Elysia's "an integer, or a query string holding one", published as the integer it decodes to.
 */
function uncoerced(schema: SchemaObject): SchemaObject {
  const branches = schema.anyOf
  if (!Array.isArray(branches) || branches.length !== 2) return schema
  const isCoercedString = (b: Json) => typeof b === 'object' && b !== null && !Array.isArray(b) && b.type === 'string' && COERCED_FORMATS.has(String(b.format))
  const stringIndex = branches.findIndex(isCoercedString)
  const typed = branches[1 - stringIndex]
  if (stringIndex < 0 || typeof typed !== 'object' || typed === null || Array.isArray(typed) || isCoercedString(typed)) return schema
  const { anyOf: _, ...outer } = schema
  return { ...outer, ...typed }
}
