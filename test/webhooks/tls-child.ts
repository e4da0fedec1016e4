/**
 * Run as a child process with NODE_EXTRA_CA_CERTS pointing at the test certificate: sends one
 * attempt to the https receiver at argv[2] and prints the result as JSON.
 */
import { sendOnce } from '../../src/webhooks/send'

const r = await sendOnce({ url: process.argv[2] as string, body: '{"id":"evt_x"}', headers: {}, timeoutMs: 3000, allowPrivate: true, nowMs: Date.now() })
console.log(JSON.stringify(r))
