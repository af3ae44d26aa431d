// Seals a serving thread's in-memory batch and hands it to the buffer every few milliseconds, or at once when it is full.

import type { Encoder } from '../native'

type Waiter = (err?: Error) => void

/** Appends a sealed batch to the buffer; resolves once LMDB has committed it. */
export type Append = (batch: Buffer) => Promise<void>

export class Batcher {
  /** POST requests whose events are in the current batch, answered when it is committed. */
  private waiters: Waiter[] = []
  private readonly appending = new Set<Promise<void>>()
  private timer: NodeJS.Timeout | undefined
  private soon = false

  constructor (private encoder: Encoder, private readonly append: Append) {}

  start (intervalMs: number): void {
    clearInterval(this.timer)
    this.timer = setInterval(() => this.seal(), intervalMs)
  }

  /** Seals what the current encoder holds, then encodes with `encoder` from now on (a reload of limits). */
  replaceEncoder (encoder: Encoder): void {
    this.seal()
    this.encoder = encoder
  }

  /** Seals on the next turn of the event loop; calls in the same turn share one seal. */
  sealSoon (): void {
    if (this.soon) return
    this.soon = true
    setImmediate(() => {
      this.soon = false
      this.seal()
    })
  }

  /** Resolves once the events encoded so far are committed to the buffer. */
  async committed (): Promise<void> {
    return await new Promise<void>((resolve, reject) => {
      this.waiters.push(err => err == null ? resolve() : reject(err))
      this.sealSoon()
    })
  }

  /** Takes the encoder's batch (none when it is empty) and appends it; the POSTs waiting on it are answered once it is committed. */
  seal (): void {
    const batch = this.encoder.takeBatch()
    const waiters = this.waiters
    this.waiters = []
    if (batch == null) {
      for (const w of waiters) w()
      return
    }
    const append = this.append(batch).then(
      () => { for (const w of waiters) w() },
      (err: Error) => { for (const w of waiters) w(err) }
    ).finally(() => this.appending.delete(append))
    this.appending.add(append)
  }

  /** Stops the timer and commits whatever is still in memory. */
  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.seal()
    await Promise.all(this.appending)
  }
}
