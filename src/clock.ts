/** Time source, injected everywhere time matters so retries and limits are testable without sleeping. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() }

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private ms = Date.UTC(2026, 10, 25, 12, 0, 0)) {}
  now(): number {
    return this.ms
  }
  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    this.ms += ms
  }
  /** Sets the time. */
  set(ms: number): void {
    this.ms = ms
  }
}

/** ISO-8601 UTC with milliseconds, the one date format of the API. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString()
}
