// Moves the native encoder's in-memory batch into the buffer every few milliseconds, or at once when it is full.

import type { EventBuffer } from './buffer'
import type { Logger } from './log'
import type { Metrics } from './metrics'
import type { Encoder } from './native'

type Waiter = (err?: Error) => void

export class Batcher {
  /** POST requests whose events are in the current batch, answered when it is committed. */
  private waiters: Waiter[] = []
  private readonly appending = new Set<Promise<void>>()
  private timer: NodeJS.Timeout | undefined
  private soon = false

  constructor (
    private readonly encoder: Encoder,
    private readonly buffer: EventBuffer,
    private readonly onAppended: () => void,
    private readonly metrics: Metrics,
    private readonly log: Logger
  ) {}

  start (intervalMs: number): void {
    this.timer = setInterval(() => this.drain(), intervalMs)
  }

  /** Drains on the next turn of the event loop; calls in the same turn share one drain. */
  drainSoon (): void {
    if (this.soon) return
    this.soon = true
    setImmediate(() => {
      this.soon = false
      this.drain()
    })
  }

  /** Resolves once the events encoded so far are committed to the buffer. */
  async committed (): Promise<void> {
    return await new Promise<void>((resolve, reject) => {
      this.waiters.push(err => err == null ? resolve() : reject(err))
      this.drainSoon()
    })
  }

  drain (): void {
    const batch = this.encoder.drain()
    const waiters = this.waiters
    this.waiters = []
    if (batch == null) {
      for (const w of waiters) w()
      return
    }
    const append = this.buffer.append(batch).then(
      () => {
        this.metrics.batchesBuffered++
        this.metrics.bytesBuffered += batch.length
        for (const w of waiters) w()
        this.onAppended()
      },
      (err: Error) => {
        this.metrics.batchesLost++
        this.log.error({ err, bytes: batch.length }, 'buffer append failed; this batch is lost')
        for (const w of waiters) w(err)
      }
    ).finally(() => this.appending.delete(append))
    this.appending.add(append)
  }

  /** Stops the timer and commits whatever is still in memory. */
  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.drain()
    await Promise.all(this.appending)
  }
}
