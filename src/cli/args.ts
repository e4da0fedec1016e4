/** Argument parsing shared by the commands: strict flags, one-line errors naming the flag, exit 2. */
import { parseArgs } from 'node:util'
import { ConfigError } from '../config'

/** A usage error: printed as one line, exit code 2. */
export class UsageError extends Error {}

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>

/** Parses `argv` against `flags`; unknown flags and missing values become UsageErrors. */
export function parseFlags(argv: string[], flags: FlagSpec) {
  try {
    return parseArgs({ args: argv, options: flags, allowPositionals: true, strict: true })
  } catch (err) {
    const msg = (err as Error).message
    const flag = /'(-{1,2}[\w-]+)/.exec(msg)?.[1]
    if (/Unknown option/.test(msg)) throw new UsageError(`unknown flag ${flag ?? ''}`.trim())
    if (/argument missing/.test(msg)) throw new UsageError(`${flag ?? 'a flag'} needs a value`)
    throw new UsageError(msg.split('\n')[0] ?? msg)
  }
}

/** A required string flag. */
export function required(values: Record<string, unknown>, name: string): string {
  const v = values[name]
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`)
  return v
}

/** A positive integer from a flag or positional. */
export function positiveInt(raw: string | undefined, what: string): number {
  const n = Number(raw)
  if (raw === undefined || !Number.isInteger(n) || n < 1) throw new UsageError(`${what} must be a positive integer${raw === undefined ? '' : `, got "${raw}"`}`)
  return n
}

/** True for errors that mean "you called it wrong" rather than "it broke". */
export function isUsageError(err: unknown): boolean {
  return err instanceof UsageError || err instanceof ConfigError
}
