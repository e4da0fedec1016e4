import { load, startMlc } from './lib'

const prof = process.env.PROF === '1'
const mlc = await startMlc({
  ...(prof ? { BUN_OPTIONS: '--cpu-prof-md --cpu-prof-dir=/tmp/st/tp' } : {}),
  ...(process.env.XENV ? JSON.parse(process.env.XENV) : {}),
})
const site = await mlc.cli(['site', 'create', '--name', 'bench-track', '--rate-limit', '1000000'])
const { token } = await mlc.cli(['token', 'create', '--site', String(site.id), '--scopes', 'read,write'])
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
const segments = [
  { name: 'pricing viewers', rule: { all: [{ event: 'viewed_pricing', count: { gte: 3 }, within_days: 7 }] } },
  { name: 'pro', rule: { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }] } },
  { name: 'engaged', rule: { any: [{ event: 'signed_up' }, { all: [{ attribute: 'email', op: 'exists' }, { event: 'viewed_pricing' }] }] } },
]
for (const s of segments) await fetch(`${mlc.url}/v1/segments`, { method: 'POST', headers, body: JSON.stringify(s) })
const which = process.env.WHICH ?? 'fresh'
const body =
  which === 'fresh'
    ? '{"key":"u_[<id>]","name":"viewed_pricing","event_id":"[<id>]","properties":{"tier":"growth"}}'
    : '{"key":"u_hot","name":"viewed_pricing","event_id":"[<id>]","properties":{"tier":"growth"}}'
const cpu = () => {
  const f = require('fs').readFileSync(`/proc/${mlc.proc.pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}
const c0 = cpu()
const fs = require('fs')
const threads = () =>
  Object.fromEntries(
    fs.readdirSync(`/proc/${mlc.proc.pid}/task`).map((tid: string) => {
      const st = fs.readFileSync(`/proc/${mlc.proc.pid}/task/${tid}/stat`, 'utf8')
      const name = st.slice(st.indexOf('(') + 1, st.indexOf(')'))
      const f = st.split(') ')[1].split(' ')
      return [`${tid}:${name}`, (Number(f[11]) + Number(f[12])) * 10]
    }),
  )
const th0 = threads()
const r = await load(which, `${mlc.url}/v1/track`, { seconds: Number(process.env.SECS ?? 5), method: 'POST', body, headers, idReplacement: true })
const used = cpu() - c0
const th1 = threads()
for (const [k, v] of Object.entries(th1)) {
  const d = (v as number) - ((th0 as any)[k] ?? 0)
  if (d > 50) console.log('thread', k, 'cpu ms', d)
}
console.log(JSON.stringify(r), 'server CPU µs/req', Math.round((used * 1000) / r.total))
await mlc.stop()
