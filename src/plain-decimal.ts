/**
 * Plain decimal numbers: the one spelling of a number that configuration, the CLI and the API
 * accept. `Number()` alone also reads "0x1F90" as 8080, "1e3" as 1000, " 80" as 80 and "" as 0.
 * A plain module (no HTTP, no config) so that each of them can import it.
 */

const DECIMAL_INTEGER = /^-?\d+$/
const DECIMAL_NUMBER = /^-?\d+(?:\.\d+)?$/

/** True when `s` is an optional minus sign and digits, nothing else (no spaces, no exponent, no hex). */
export function isPlainDecimalInteger(s: string): boolean {
  return DECIMAL_INTEGER.test(s)
}

/** The integer `s` spells when it is a plain decimal integer from `min` to `max`, else undefined. */
export function parsePlainDecimalInteger(s: string, min: number, max: number): number | undefined {
  if (!DECIMAL_INTEGER.test(s)) return undefined
  // `+ 0` turns "-0" into 0.
  const n = Number(s) + 0
  return n >= min && n <= max && Number.isSafeInteger(n) ? n : undefined
}

/** The number `s` spells when it is plain decimal digits with an optional fraction ("0.5"), from `min` to `max`, else undefined. */
export function parsePlainDecimal(s: string, min: number, max: number): number | undefined {
  if (!DECIMAL_NUMBER.test(s)) return undefined
  const n = Number(s) + 0
  return n >= min && n <= max ? n : undefined
}
