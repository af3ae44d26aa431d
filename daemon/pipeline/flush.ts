// The flush scheduler: hands buffered batches to the piscina workers, retries with backoff, acknowledges or dead-letters.

import { join } from 'node:path'
import { Piscina } from 'piscina'
import type { EventBuffer } from './buffer'
import type { Config } from '../config'
import { errors } from '../errors'
import { HBaseClient } from '../hbase/client'
import type { FlushResult, FlushTask } from './flush-worker'
import { RateLimit, type Logger } from '../log'
import type { SharedState } from './shared-state'

/** Told of every flush attempt, for the flush latency histogram, with the batches it wrote. */
export type FlushObserver = (outcome: 'acknowledged' | 'retried' | 'dead-lettered', seconds: number, batches: number) => void

/** Full-jitter exponential backoff: a random delay up to min(max, base · 2^attempt). */
export function backoff (attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30)))
}

/**
 * The batch in memory that can be transferred to a flush worker: the buffer's read when it is the whole of its
 * ArrayBuffer (as lmdb-js's copies are), else one copy.
 */
function owned (batch: Buffer): Uint8Array {
  if (batch.byteOffset === 0 && batch.byteLength === batch.buffer.byteLength) return batch
  return new Uint8Array(batch)
}

/**
 * A buffer emptied by the flush whose data file has grown past this is replaced by a fresh one (EventBuffer.reset).
 * In steady operation LMDB reuses its free pages and the file stays a few MiB; past this, it held a backlog.
 */
export const RESET_ABOVE_BYTES = 32 * 1024 * 1024

/** Batches written together at most. */
const MAX_GROUP = 64
/**
 * Bytes of batches written together at most (or flush.max_request_bytes, when smaller). Batches this large already
 * come from a heavy load and go alone, as before groups; grouping is for the small batches of a light load.
 */
const GROUP_BYTES = 256 * 1024

export class Flusher {
  private readonly pool: Piscina<FlushTask, FlushResult>
  /** Highest sequence number handed out; the buffer is read strictly after it. */
  private cursor = 0n
  private inFlight = 0
  private stopping = false
  private readonly sleeping = new Set<() => void>()
  /** Set while the probe runs; it runs while any retry waits. */
  private probing = false
  private probeTimer: NodeJS.Timeout | undefined
  private wakeProbe: () => void = () => {}
  private idle: Array<() => void> = []
  /** Set while the next flush waits for flush.linger_ms. */
  private lingerTimer: NodeJS.Timeout | undefined
  /** Retry warnings during an outage: the first at once, then one every 10 s with the count held back. */
  private readonly retryLog = new RateLimit(10000)

  constructor (
    private readonly buffer: EventBuffer,
    private config: Config,
    private readonly state: SharedState,
    private readonly log: Logger,
    private readonly observe: FlushObserver = () => {}
  ) {
    this.pool = new Piscina<FlushTask, FlushResult>({
      filename: join(__dirname, 'flush-worker.js'),
      minThreads: config.flush.workers,
      maxThreads: config.flush.workers,
      // A task mostly waits on HBase, so a worker takes several at once; flush.in_flight (at most 256, and
      // reloadable) is what limits them.
      concurrentTasksPerWorker: 256,
      idleTimeout: Infinity
    })
  }

  /** Batches being written now, or waiting to be retried. */
  get active (): number { return this.inFlight }

  /** Takes new flush tuning (a reload); flush.workers needs a restart. */
  setConfig (config: Config): void {
    this.config = config
    this.kick()
  }

  /** Publishes the buffer's size and the flushes in flight to the serving threads. */
  private publish (): void {
    this.state.set('bufferBytes', this.buffer.size)
    this.state.set('bufferBatches', this.buffer.batchCount)
    this.state.set('flushActive', this.inFlight)
  }

  /**
   * Starts flushes for new batches, up to flush.in_flight at once. Each takes the batches ready after the last one
   * handed out, up to GROUP_BYTES, once the oldest of them has waited flush.linger_ms (at once while draining, or
   * when that many bytes are ready).
   */
  kick (): void {
    clearTimeout(this.lingerTimer)
    this.lingerTimer = undefined
    const { lingerMs, maxRequestBytes } = this.config.flush
    const cap = Math.min(GROUP_BYTES, maxRequestBytes)
    while (!this.stopping && this.inFlight < this.config.flush.inFlight) {
      const group = this.buffer.after(this.cursor, MAX_GROUP, cap)
      if (group.seqs.length === 0) return
      const wait = this.state.draining ? 0 : lingerMs - this.buffer.ageMs(group.seqs[0])
      if (wait > 0 && !group.full) {
        this.lingerTimer = setTimeout(() => this.kick(), wait)
        return
      }
      this.cursor = group.seqs[group.seqs.length - 1]
      this.inFlight++
      this.publish()
      void this.flushGroup(group.seqs)
    }
  }

  private async flushGroup (seqs: bigint[]): Promise<void> {
    await this.write(seqs)
    if (this.inFlight === 1 && this.buffer.batchCount === 0 && !this.stopping) await this.shrink()
    this.inFlight--
    this.publish()
    this.kick()
    if (this.inFlight === 0) {
      for (const resolve of this.idle) resolve()
      this.idle = []
    }
  }

  /**
   * Writes the batches to HBase as one, retrying until it takes them, and removes them from the buffer. A group that
   * can never be written is written again one batch at a time, so that only the bad batch becomes a dead letter.
   */
  private async write (seqs: bigint[]): Promise<void> {
    const { hbase, flush } = this.config
    for (let attempt = 0; !this.stopping; attempt++) {
      // Read afresh on every attempt, so a batch waiting for its retry holds no memory.
      const reads = seqs.flatMap(seq => {
        const read = this.buffer.get(seq)
        return read == null ? [] : [{ seq, length: read.length, batch: owned(read) }]
      })
      if (reads.length === 0) break
      const batches = reads.map(r => r.batch)
      const task: FlushTask = {
        batches,
        host: hbase.host,
        port: hbase.port,
        timeoutMs: flush.timeoutMs,
        userTable: hbase.userTable,
        timeTable: hbase.timeTable,
        identityTable: hbase.identityTable,
        saltBuckets: hbase.saltBuckets,
        dropBots: this.config.enrich.dropBots,
        appPlatforms: this.config.enrich.appPlatforms,
        maxRequestBytes: flush.maxRequestBytes
      }
      const started = process.hrtime.bigint()
      let result: FlushResult
      try {
        result = await this.pool.run(task, { transferList: batches.map(b => b.buffer as ArrayBuffer) })
      } catch (err) {
        // The pool is destroyed when a stop times out; the batches stay in the buffer.
        if (this.stopping) break
        result = { ok: false, permanent: false, reason: `worker: ${(err as Error).message}` }
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const first = reads[0].seq.toString()
      try {
        if (result.ok) {
          await this.buffer.ack(reads)
          // Their pages are free for new batches again: an append refused for room may succeed now.
          this.state.unwritable = false
          if (this.retryLog.pending > 0 || attempt > 0) {
            this.log.info({ seq: first, batches: reads.length, attempts: attempt + 1, retriesNotLogged: this.retryLog.pending }, 'flush recovered')
            this.retryLog.reset()
          }
          this.state.add('batchesAcknowledged', reads.length)
          this.state.add('eventsDelivered', result.events)
          this.state.add('eventsDroppedBots', result.droppedBots)
          this.observe('acknowledged', seconds, reads.length)
          break
        }
        if (result.permanent && reads.length > 1) {
          for (const r of reads) await this.write([r.seq])
          return
        }
        if (result.permanent) {
          await this.buffer.deadLetter(reads[0].seq, result.reason)
          this.state.add('batchesDeadLettered')
          this.observe('dead-lettered', seconds, 1)
          this.log.error({ code: errors.DEAD_LETTER.code, seq: first, reason: result.reason }, errors.DEAD_LETTER.message)
          break
        }
      } catch (err) {
        // The buffer could not record the outcome (a full disk). The batches stay, to be written again: harmless, as
        // every event carries its own rowkeys and cell timestamps.
        this.log.error({ code: errors.BUFFER_WRITE_FAILED.code, err, seq: first }, 'the buffer could not record a flush\'s outcome; the batch will be flushed again')
        result = { ok: false, permanent: false, reason: `buffer: ${(err as Error).message}` }
      }
      this.state.add('flushRetries')
      this.observe('retried', seconds, reads.length)
      const delay = backoff(attempt, flush.retryMinMs, flush.retryMaxMs)
      const held = this.retryLog.take()
      if (held >= 0) this.log.warn({ code: errors.FLUSH_RETRY.code, seq: first, batches: reads.length, attempt, delay, reason: result.reason, retriesNotLogged: held }, errors.FLUSH_RETRY.message)
      await this.sleep(delay)
    }
  }

  /** Gives back the disk and memory a flushed backlog held, by replacing the emptied buffer's environment. */
  private async shrink (): Promise<void> {
    try {
      const freedBytes = await this.buffer.reset(RESET_ABOVE_BYTES)
      if (freedBytes > 0) this.log.info({ freedBytes }, 'the buffer is empty again; its file was replaced by a fresh one')
    } catch (err) {
      this.log.error({ err }, 'the emptied buffer could not be replaced')
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
      void this.probe()
    })
  }

  /**
   * While retries wait, asks HBase every flush.probe_interval_ms whether it answers again, and when it does, wakes
   * every waiting retry: the backoff spares a failing HBase, the probe ends the wait the moment it is back.
   */
  private async probe (): Promise<void> {
    if (this.probing) return
    this.probing = true
    try {
      while (!this.stopping && this.sleeping.size > 0) {
        const interval = this.config.flush.probeIntervalMs
        await new Promise<void>(resolve => {
          this.wakeProbe = resolve
          this.probeTimer = setTimeout(resolve, interval)
        })
        if (this.stopping || this.sleeping.size === 0) break
        if (!await this.answers(interval)) continue
        this.log.info({ waiting: this.sleeping.size }, 'HBase answers again; the waiting flushes retry now')
        for (const wake of [...this.sleeping]) wake()
      }
    } finally {
      this.probing = false
    }
  }

  /** True when the gateway answers and both event tables exist, within timeoutMs for each step. */
  private async answers (timeoutMs: number): Promise<boolean> {
    const { hbase } = this.config
    let client: HBaseClient | undefined
    try {
      client = await HBaseClient.connect({ host: hbase.host, port: hbase.port, connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs })
      return await client.tableExists(hbase.userTable) && await client.tableExists(hbase.timeTable)
    } catch {
      return false
    } finally {
      void client?.close()
    }
  }

  /**
   * Stops starting flushes, cuts retry waits short and waits up to timeoutMs for the flushes being
   * written; what is not acknowledged stays in the buffer for the next start.
   */
  async stop (timeoutMs: number): Promise<void> {
    this.stopping = true
    clearTimeout(this.lingerTimer)
    clearTimeout(this.probeTimer)
    this.wakeProbe()
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
