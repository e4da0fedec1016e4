/** A free loopback port, for tests and benches that start servers (the OS picks it, then it is released). */
export function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') })
  const port = s.port as number
  s.stop(true)
  return port
}
