/** Argument parsing shared by the commands: strict flags, one-line errors naming the flag, exit 2. */
import { ConfigError, OPTIONS } from '../config'
import { parsePlainDecimalInteger } from '../plain-decimal'

/** A usage error: printed as one line, exit code 2. */
export class UsageError extends Error {}

/**
 * A command's flags. `help`, `value` (the placeholder in --help) and `default` document the flag;
 * flags that are also config options (`--data-dir`) take their env var and default from OPTIONS.
 */
export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string; help?: string; value?: string; default?: string }>

/** Parses `argv` against `flags`; unknown flags and missing values become UsageErrors. */
export function parseFlags(argv: string[], flags: FlagSpec) {
  const options = Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, v.short ? { type: v.type, short: v.short } : { type: v.type }]))
  // Loaded here, not imported: node:util costs ~4 ms of every start, and `mlc` alone parses nothing.
  const { parseArgs } = process.getBuiltinModule('node:util') as typeof import('node:util')
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true })
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

/** A positive integer from a flag or positional, in plain decimal digits ("0x10", "1e3", " 7" are refused). */
export function positiveInt(raw: string | undefined, what: string): number {
  const n = raw === undefined ? undefined : parsePlainDecimalInteger(raw, 1, Number.MAX_SAFE_INTEGER)
  if (n === undefined)
    throw new UsageError(`${what} must be a positive integer (plain decimal digits)${raw === undefined ? '' : `, got ${JSON.stringify(raw)}`}`)
  return n
}

/** True for errors that mean "you called it wrong" rather than "it broke". */
export function isUsageError(err: unknown): boolean {
  return err instanceof UsageError || err instanceof ConfigError
}

/** One aligned help line: flag, env var, default, description (the layout `configHelp` uses too). */
export function helpLine(flag: string, env: string, def: string, help: string): string {
  // Columns are separated by at least two spaces even when a value overflows its width.
  return `  ${flag.padEnd(24)}  ${env.padEnd(31)}  default ${def.padEnd(12)}  ${help}`.trimEnd()
}

/** Help lines for every flag of a command, each with its env var ("-" when none) and default. */
export function flagsHelp(flags: FlagSpec): string {
  const byFlag = new Map<string, { env: string; default: string; help: string }>()
  for (const o of Object.values(OPTIONS) as { flag?: string; env: string; default: string; help: string }[]) if (o.flag) byFlag.set(o.flag, o)
  return Object.entries(flags)
    .map(([name, spec]) => {
      const option = byFlag.get(name)
      const shown = `--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`
      const def = option ? JSON.stringify(option.default) : spec.type === 'boolean' ? 'off' : (spec.default ?? '-')
      return helpLine(shown, option?.env ?? '-', def, spec.help ?? option?.help ?? '')
    })
    .join('\n')
}
