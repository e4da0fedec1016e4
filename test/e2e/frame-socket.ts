/** A WebSocket test client that records every JSON frame and can wait for one (the chat e2e tests share it). */
export class FrameSocket {
  readonly frames: any[] = []
  readonly ws: WebSocket
  private waiters: { match: (f: any) => boolean; resolve: (f: any) => void }[] = []
  closed: { code: number } | null = null
  errored = false

  constructor(url: string, headers?: Record<string, string>) {
    this.ws = new WebSocket(url, (headers ? { headers } : undefined) as never)
    this.ws.onmessage = (e) => {
      const frame = JSON.parse(String(e.data))
      this.frames.push(frame)
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true
        w.resolve(frame)
        return false
      })
    }
    this.ws.onerror = () => {
      this.errored = true
    }
    this.ws.onclose = (e) => {
      this.closed = { code: e.code }
    }
  }

  /** Resolves with the first frame (already received or coming) matching, or fails after `ms`. */
  next(match: (f: any) => boolean, ms = 3000): Promise<any> {
    const have = this.frames.find(match)
    if (have) return Promise.resolve(have)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(this.frames)}`)), ms)
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer)
          resolve(f)
        },
      })
    })
  }

  /** Waits for the connection to be open. */
  opened(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.ws.addEventListener('open', () => resolve())
      this.ws.addEventListener('close', (e) => reject(new Error(`closed ${e.code}`)))
    })
  }

  /** Waits for the hello frame (the socket is open and subscribed). */
  hello(): Promise<any> {
    return this.next((f) => f.type === 'hello')
  }

  /** Waits until the connection is closed (refused or ended). */
  async ended(ms = 3000): Promise<{ code: number }> {
    const deadline = Date.now() + ms
    while (!this.closed && Date.now() < deadline) await Bun.sleep(10)
    if (!this.closed) throw new Error('socket still open')
    return this.closed
  }

  close() {
    this.ws.close()
  }
}
