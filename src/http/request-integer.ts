/**
 * An integer in a request: a query-string or path value ("20"), or a JSON number. The same schema
 * as Elysia's `t.Integer` (a decimal string or an integer, decoded to a number and range-checked),
 * except that strings must be plain decimals, and the range check is compiled on first use, not
 * when the schema is built (each of Elysia's eager compiles cost ~0.3 ms; a dozen of them loaded
 * at start were ~5 ms of every cold start).
 */
import { type IntegerOptions, type TInteger, Type } from '@sinclair/typebox'
import { t } from 'elysia'
import { compile } from 'elysia/type-system/utils'
import { isPlainDecimalInteger } from '../plain-decimal'

/** An integer schema for query, path or body values: plain decimal strings or integers, range-checked on first use. */
export function RequestInteger(options?: IntegerOptions): TInteger {
  const range = Type.Integer(options)
  let checker: ReturnType<typeof compile> | undefined
  const schema = t
    .Transform(t.Union([t.String({ format: 'integer', default: 0 }), Type.Integer(options)], options))
    .Decode((value) => {
      checker ??= compile(range)
      // A string must be a plain decimal integer: `+value` alone (what t.Integer does) would read
      // "0x10" as 16, "1e3" as 1000 and " 7" as 7.
      if (typeof value === 'string' && !isPlainDecimalInteger(value)) throw checker.Error(value)
      const number = +value
      // Elysia's error for a value out of range: a ValidationError carrying the schema's `error`.
      if (!checker.Check(number)) throw checker.Error(number)
      return number
    })
    .Encode((value) => value)
  // Typed as Elysia types its own: handlers see a number.
  return schema as unknown as TInteger
}
