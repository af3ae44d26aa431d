// The flush scheduler: hands buffered batches to the piscina workers, retries with backoff, acknowledges or dead-letters.

import { join } from 'node:path'
import { Piscina } from 'piscina'
import type { EventBuffer } from './buffer'
import type { Config } from './config'
import { errors } from './errors'
import type { FlushResult, FlushTask } from './flush-worker'
import type { Logger } from './log'
import type { Metrics } from './metrics'

/** Full-jitter exponential backoff: a random delay up to min(max, base · 2^attempt). */
export function backoff (attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30)))
}

export class Flusher {
  private readonly pool: Piscina<FlushTask, FlushResult>
  /** Highest sequence number handed out; the buffer is read strictly after it. */
  private cursor = 0n
  private inFlight = 0
  private stopping = false
  private readonly sleeping = new Set<() => void>()
  private idle: Array<() => void> = []

  constructor (
    private readonly buffer: EventBuffer,
    private readonly config: Config,
    private readonly metrics: Metrics,
    private readonly log: Logger
  ) {
    this.pool = new Piscina<FlushTask, FlushResult>({
      filename: join(__dirname, 'flush-worker.js'),
      minThreads: config.flush.workers,
      maxThreads: config.flush.workers,
      idleTimeout: Infinity
    })
  }

  /** Batches being written now, or waiting to be retried. */
  get active (): number { return this.inFlight }

  /** Starts flushes for new batches, up to flush.in_flight at once. */
  kick (): void {
    while (!this.stopping && this.inFlight < this.config.flush.inFlight) {
      const seq = this.buffer.next(this.cursor)
      if (seq == null) return
      this.cursor = seq
      this.inFlight++
      void this.flushOne(seq)
    }
  }

  private async flushOne (seq: bigint): Promise<void> {
    const { hbase, flush } = this.config
    for (let attempt = 0; !this.stopping; attempt++) {
      // Read afresh on every attempt, so a batch waiting for its retry holds no memory.
      const batch = this.buffer.get(seq)
      if (batch == null) break
      const bytes = new Uint8Array(batch)
      const task: FlushTask = {
        batch: bytes,
        host: hbase.host,
        port: hbase.port,
        timeoutMs: flush.timeoutMs,
        userTable: hbase.userTable,
        timeTable: hbase.timeTable,
        maxRequestBytes: flush.maxRequestBytes
      }
      const result = await this.pool.run(task, { transferList: [bytes.buffer] })
      if (result.ok) {
        await this.buffer.ack(seq, batch.length)
        this.metrics.batchesAcknowledged++
        this.metrics.eventsDelivered += result.events
        break
      }
      if (result.permanent) {
        await this.buffer.deadLetter(seq, batch, result.reason)
        this.metrics.batchesDeadLettered++
        this.log.error({ code: errors.DEAD_LETTER.code, seq: seq.toString(), reason: result.reason }, errors.DEAD_LETTER.message)
        break
      }
      this.metrics.flushRetries++
      const delay = backoff(attempt, flush.retryMinMs, flush.retryMaxMs)
      this.log.warn({ code: errors.FLUSH_RETRY.code, seq: seq.toString(), attempt, delay, reason: result.reason }, errors.FLUSH_RETRY.message)
      await this.sleep(delay)
    }
    this.inFlight--
    this.kick()
    if (this.inFlight === 0) {
      for (const resolve of this.idle) resolve()
      this.idle = []
    }
  }

  private async sleep (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const wake = (): void => {
        clearTimeout(timer)
        this.sleeping.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.sleeping.add(wake)
    })
  }

  /**
   * Stops starting flushes, cuts retry waits short and waits up to timeoutMs for the flushes being
   * written; what is not acknowledged stays in the buffer for the next start.
   */
  async stop (timeoutMs: number): Promise<void> {
    this.stopping = true
    for (const wake of [...this.sleeping]) wake()
    if (this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        new Promise<void>(resolve => this.idle.push(resolve)),
        new Promise<void>(resolve => { timer = setTimeout(resolve, timeoutMs) })
      ])
      clearTimeout(timer)
    }
    await this.pool.destroy()
  }
}
