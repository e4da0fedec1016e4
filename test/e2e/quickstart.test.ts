/**
 * The product page's quickstart, verbatim, with the real `curl` against a fresh `mlc serve`:
 * identify a visitor, track an event, both through /v1/api.ashx, both ok:true.
 */
// Tests spawn real processes: 30 s timeouts leave room for a loaded machine.
import { afterAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { spawn } from 'bun'
import { tempDir } from '../helpers'
import { runCli, startServerProcess } from './server'

const dir = tempDir()
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs a shell script with API and TOKEN exported, as a user pasting the page would. */
async function sh(script: string, env: Record<string, string>): Promise<string> {
  const p = spawn(['bash', '-c', script], { env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' })
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited])
  expect(code).toBe(0)
  return out
}

describe('quickstart against a fresh server', () => {
  test('the two curl commands answer ok:true, and the visitor shows the event', async () => {
    const server = await startServerProcess(dir)
    try {
      const tok = JSON.parse((await runCli(['token', 'create', '--site', '1', '--scopes', 'read,write', '--json'], { MLC_DATA_DIR: dir })).stdout)
      const env = { API: server.url, TOKEN: tok.token }
      const identify = await sh(
        `curl -s -X POST "$API/v1/api.ashx?resource=visitors" \\
  -H "Authorization: Bearer $TOKEN" \\
  -H "Content-Type: application/json" \\
  -d '{"key":"u_42","email":"jay@example.com","name":"Jay"}'`,
        env,
      )
      expect(JSON.parse(identify)).toMatchObject({ ok: true, data: { key: 'u_42', email: 'jay@example.com', name: 'Jay' } })
      const track = await sh(
        `curl -s -X POST "$API/v1/api.ashx?resource=track" \\
  -H "Authorization: Bearer $TOKEN" \\
  -d '{"key":"u_42","name":"viewed_pricing"}'`,
        env,
      )
      expect(JSON.parse(track)).toMatchObject({ ok: true, data: { key: 'u_42', name: 'viewed_pricing' } })
      const read = await fetch(`${server.url}/v1/api.ashx?resource=visitors&key=u_42`, { headers: { authorization: `Bearer ${tok.token}` } })
      const body = (await read.json()) as any
      expect(body.data.event_count).toBe(1)
      expect(body.data.events[0].name).toBe('viewed_pricing')
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0)
    }
  }, 30_000)

  test('the publishable key tracks from a page (CORS-simple text/plain body), and survives a restart', async () => {
    const server = await startServerProcess(dir)
    let pk = ''
    try {
      pk = JSON.parse((await runCli(['site', 'list', '--json'], { MLC_DATA_DIR: dir })).stdout)[0].publishable_key
      const r = await fetch(`${server.url}/v1/track`, {
        method: 'POST',
        headers: { authorization: `Bearer ${pk}`, 'content-type': 'text/plain' },
        body: JSON.stringify({ anonymous_id: 'a-1', name: 'page_view', event_id: 'pv-1' }),
      })
      expect(r.status).toBe(201)
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0)
    }
    const again = await startServerProcess(dir)
    try {
      const r = await fetch(`${again.url}/v1/track`, {
        method: 'POST',
        headers: { authorization: `Bearer ${pk}` },
        body: JSON.stringify({ anonymous_id: 'a-1', name: 'page_view', event_id: 'pv-1' }),
      })
      expect(r.status).toBe(200)
      expect(((await r.json()) as any).data.duplicate).toBe(true)
    } finally {
      expect(await again.stop('SIGTERM')).toBe(0)
    }
  }, 30_000)
})
