/** `mlc --help` and `mlc <command> --help`: every flag with its env var and default. */
import { describe, expect, test } from 'bun:test'
import { ADMIN_FLAGS } from '../../src/cli/admin'
import type { FlagSpec } from '../../src/cli/args'
import { BACKUP_FLAGS, RESTORE_FLAGS } from '../../src/cli/backup'
import { HEALTHCHECK_FLAGS } from '../../src/cli/healthcheck'
import { SITE_FLAGS } from '../../src/cli/site'
import { TOKEN_FLAGS } from '../../src/cli/token'
import { OPTIONS } from '../../src/config'
import { runCli } from '../e2e/server'

/** The serve flags and env-only settings, as a FlagSpec-like table. */
const SERVE = Object.fromEntries(Object.values(OPTIONS).map((o) => [('flag' in o ? o.flag : undefined) ?? o.env, o]))

/** Each command's flags; a command listed by `mlc --help` must appear here. */
const COMMANDS: Record<string, FlagSpec | typeof SERVE> = {
  serve: SERVE,
  site: SITE_FLAGS,
  token: TOKEN_FLAGS,
  admin: ADMIN_FLAGS,
  backup: BACKUP_FLAGS,
  restore: RESTORE_FLAGS,
  healthcheck: HEALTHCHECK_FLAGS,
}

/** The help line documenting `--flag` (or an env-only setting), split into its columns. */
function lineFor(help: string, name: string): { env: string; def: string } | null {
  for (const line of help.split('\n')) {
    if (!line.startsWith('  ')) continue
    const cols = line.trim().split(/\s{2,}/)
    // Env-only settings have an empty flag column.
    if (cols[0]?.startsWith('MLC_')) cols.unshift('')
    const [flag, env, def] = cols
    if (!def?.startsWith('default ') || !env) continue
    const matches = /^MLC_/.test(name) ? flag === '' && env === name : flag?.split(' ')[0] === `--${name}`
    if (matches) return { env, def: def.slice('default '.length) }
  }
  return null
}

describe('mlc --help', () => {
  let top = ''
  test('lists every command, each with a flag table here', async () => {
    const r = await runCli(['--help'])
    expect(r.code).toBe(0)
    top = r.stdout
    const section = top.slice(top.indexOf('Commands:'), top.indexOf('\n\n', top.indexOf('Commands:')))
    const listed = section
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/)[0] as string)
      .filter((c) => c !== 'version')
    expect(listed.sort()).toEqual(Object.keys(COMMANDS).sort())
  })

  for (const [command, flags] of Object.entries(COMMANDS)) {
    test(`mlc ${command} --help documents each flag with env var and default`, async () => {
      const r = await runCli([command, '--help'])
      expect(r.code).toBe(0)
      for (const [name, spec] of Object.entries(flags)) {
        const line = lineFor(r.stdout, name)
        if (!line) throw new Error(`mlc ${command} --help has no line for ${name}:\n${r.stdout}`)
        const option = Object.values(OPTIONS).find((o) => ('flag' in o && o.flag === name) || o.env === name)
        if (option) {
          expect(line.env).toBe(option.env)
          expect(line.def).toBe(JSON.stringify(option.default))
        } else {
          expect(line.env).toBe('-')
          expect(line.def).toBe((spec as { type: string }).type === 'boolean' ? 'off' : ((spec as { default?: string }).default ?? '-'))
        }
        // The same lines appear in the top-level help.
        expect(top).toContain(r.stdout.trim().split('\n')[0] as string)
      }
    })
  }

  test('version prints version, commit and build date', async () => {
    const r = await runCli(['version'])
    expect(r.stdout.trim()).toMatch(/^mlc \d+\.\d+\.\d+\S* \(commit \S+, built \S+\)$/)
  })
})
