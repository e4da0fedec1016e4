/** `mlc site update --identity-required on|off --rotate-identity-secret`: the secret is printed once and works. */
// Tests spawn real processes: 30 s timeouts leave room for a loaded machine.
import { afterAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { openSqliteStore } from '../../src/db/sqlite/store'
import { runCli } from '../e2e/server'
import { tempDir } from '../helpers'

const dir = tempDir()
const env = { MLC_DATA_DIR: dir }
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('mlc site update: identity verification', () => {
  test('--identity-required on creates a secret and prints it once; off keeps the secret; rotate prints a new one', async () => {
    const site = JSON.parse((await runCli(['site', 'create', '--name', 'Idem', '--json'], env)).stdout)
    const on = await runCli(['site', 'update', String(site.id), '--identity-required', 'on', '--json'], env)
    expect(on.code).toBe(0)
    const onOut = JSON.parse(on.stdout)
    expect(onOut).toMatchObject({ id: site.id, identity_required: true })
    expect(onOut.identity_secret).toMatch(/^mlcid_/)
    const store = openSqliteStore(dir)
    try {
      expect((await store.siteIdentity.get(site.id))?.identity_secret).toBe(onOut.identity_secret)
    } finally {
      await store.close()
    }
    const again = JSON.parse((await runCli(['site', 'update', String(site.id), '--identity-required', 'on', '--json'], env)).stdout)
    expect(again).not.toHaveProperty('identity_secret')
    const off = JSON.parse((await runCli(['site', 'update', String(site.id), '--identity-required', 'off', '--json'], env)).stdout)
    expect(off).toMatchObject({ identity_required: false })
    const text = await runCli(['site', 'update', String(site.id), '--rotate-identity-secret'], env)
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('identity verification: off')
    const secret = /identity secret \(shown once[^)]*\): (mlcid_\S+)/.exec(text.stdout)?.[1]
    expect(secret).toBeDefined()
    expect(secret).not.toBe(onOut.identity_secret)
  }, 30_000)

  test('a value other than on/off is a one-line usage error, exit 2', async () => {
    const r = await runCli(['site', 'update', '1', '--identity-required', 'maybe'], env)
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain('--identity-required')
  }, 30_000)
})
