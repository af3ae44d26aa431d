// The logger: JSON lines on stdout through pino.

import pino, { type Logger } from 'pino'

export type { Logger }

export function createLogger (level: string): Logger {
  return pino({ level, base: { svc: 'spoor' } })
}

/**
 * Lets a repeated message through at most once per `everyMs`, counting the ones held back, so that an
 * outage that fails every flush writes a line every few seconds rather than one per attempt.
 */
export class RateLimit {
  private last = -Infinity
  private held = 0

  constructor (private readonly everyMs: number) {}

  /** The number of messages held back since the last one let through, or -1 to hold this one back too. */
  take (now = Date.now()): number {
    if (now - this.last < this.everyMs) {
      this.held++
      return -1
    }
    const held = this.held
    this.last = now
    this.held = 0
    return held
  }

  /** Messages held back since the last one let through. */
  get pending (): number { return this.held }

  reset (): void {
    this.last = -Infinity
    this.held = 0
  }
}
