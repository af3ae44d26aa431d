// `spoor recommend consume`: takes signals from RabbitMQ and stores them in HBase before it acknowledges them, in
// batches; moves invalid ones to the dead-letter queue with their reason; retries HBase and reconnects to RabbitMQ
// for as long as it runs. Nothing is acknowledged that is not stored or dead-lettered (docs/recommendations.md).

import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib'
import { errors } from '../errors'
import { HBaseClient } from '../hbase/client'
import { writeSignals } from '../hbase/signals'
import { RateLimit, type Logger } from '../log'
import { backoff, describe, openConnection, redactUrl, Sleeper } from './amqp'
import { checkSignal, type Rejection, type Signal, type SignalLimits } from './signal'
import { declareTopology, type Topology } from './topology'

export interface ConsumerOptions {
  /** RabbitMQ (`recommend.amqp_url`). */
  url: string
  topology: Topology
  /** basic.qos: most unacknowledged deliveries (`recommend.prefetch`). */
  prefetch: number
  /** Most signals per HBase write and acknowledgement (`recommend.batch_size`); a batch never exceeds `prefetch`. */
  batchSize: number
  /** Longest a delivery waits for its batch to fill (`recommend.batch_ms`). */
  batchMs: number
  /** Backoff of HBase writes and reconnections (`recommend.retry_min_ms`, `recommend.retry_max_ms`). */
  retryMinMs: number
  retryMaxMs: number
  limits: SignalLimits
  hbase: {
    host: string
    port: number
    /** `recommend.signals_table`. */
    table: string
    saltBuckets: number
    /** A Thrift call that takes longer fails and is retried (`flush.timeout_ms`). */
    requestTimeoutMs: number
  }
  log: Logger
}

/** What the consumer has done since it started; read by the CLI's status line and the tests. */
export interface ConsumerStats {
  /** Deliveries received, redeliveries included. */
  received: number
  /** Of those, deliveries RabbitMQ marked as redelivered: given to a consumer before, and not acknowledged. */
  redelivered: number
  /** Signals written to HBase and acknowledged (a redelivered one counts again). */
  stored: number
  /** Messages moved to the dead-letter queue and acknowledged. */
  deadLettered: number
  /** Batches acknowledged. */
  batches: number
  /** HBase writes that failed and were retried. */
  storeRetries: number
  /** Connections to RabbitMQ opened, the first included. */
  connections: number
  /** Whether it is consuming now. */
  consuming: boolean
}

/** Header of a dead letter naming its reason's code (REJECTIONS). */
export const ERROR_HEADER = 'x-spoor-error'
/** Header of a dead letter saying exactly what was wrong. */
export const REASON_HEADER = 'x-spoor-reason'

/** One connection's channel and the deliveries received on it; deliveries on a closed one are never acknowledged. */
class Session {
  readonly pending: ConsumeMessage[] = []
  writing = false
  closed = false
  timer: NodeJS.Timeout | undefined
  consumerTag: string | undefined
  /** Resolves when the connection or channel closes. */
  readonly ended: Promise<void>
  private end!: () => void
  private idle: Array<() => void> = []

  constructor (readonly connection: ChannelModel, readonly channel: ConfirmChannel) {
    this.ended = new Promise(resolve => { this.end = resolve })
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.timer)
    // What was delivered and not acknowledged goes back to the queue when the channel goes: it is not lost.
    this.pending.length = 0
    this.end()
    this.notifyIdle()
  }

  /** Resolves when nothing is pending or being written. */
  async settled (): Promise<void> {
    if (this.closed || (!this.writing && this.pending.length === 0)) return
    await new Promise<void>(resolve => this.idle.push(resolve))
  }

  notifyIdle (): void {
    if (!this.closed && (this.writing || this.pending.length > 0)) return
    const idle = this.idle
    this.idle = []
    for (const resolve of idle) resolve()
  }
}

export class SignalConsumer {
  readonly stats: ConsumerStats = { received: 0, redelivered: 0, stored: 0, deadLettered: 0, batches: 0, storeRetries: 0, connections: 0, consuming: false }
  private session: Session | undefined
  private stopping = false
  private hbase: HBaseClient | undefined
  private readonly sleeper = new Sleeper()
  private readonly running: Promise<void>
  /** Failures during an outage: the first logged at once, then one every 10 s with the count held back. */
  private readonly storeLog = new RateLimit(10000)
  private readonly connectLog = new RateLimit(10000)
  private consumingListeners: Array<() => void> = []

  private readonly batchSize: number

  private constructor (private readonly o: ConsumerOptions) {
    // RabbitMQ never hands over more than prefetch unacknowledged deliveries, so a larger batch could never fill.
    this.batchSize = Math.min(o.batchSize, o.prefetch)
    this.running = this.run()
  }

  /** Starts consuming in the background: connecting, and reconnecting, until `stop`. */
  static start (options: ConsumerOptions): SignalConsumer {
    return new SignalConsumer(options)
  }

  /** Resolves the next time the consumer starts consuming (at once if it is). */
  async consuming (): Promise<void> {
    if (this.stats.consuming) return
    await new Promise<void>(resolve => this.consumingListeners.push(resolve))
  }

  /**
   * Stops taking deliveries, writes and acknowledges what it holds (waiting up to `timeoutMs`), and closes. What is
   * still unacknowledged then goes back to the queue, for the next start.
   */
  async stop (timeoutMs = 30000): Promise<void> {
    if (this.stopping) return await this.running
    this.stopping = true
    const session = this.session
    if (session !== undefined && !session.closed) {
      try {
        if (session.consumerTag !== undefined) await session.channel.cancel(session.consumerTag)
      } catch {
        // The channel is closing anyway.
      }
      void this.flush(session)
      let timer: NodeJS.Timeout | undefined
      const waited = await Promise.race([
        session.settled().then(() => true),
        new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(false), timeoutMs) })
      ])
      clearTimeout(timer)
      if (!waited) this.o.log.warn({ pending: session.pending.length }, 'stop: the last batch was not written in time; it stays in the queue')
    }
    this.sleeper.wake()
    if (session !== undefined) await session.connection.close().catch(() => {})
    await this.running
    await this.hbase?.close()
  }

  private async run (): Promise<void> {
    const { log, url } = this.o
    for (let attempt = 0; !this.stopping;) {
      let connection: ChannelModel | undefined
      try {
        connection = await openConnection(url, `spoor recommend consume (pid ${process.pid})`)
        // An error event precedes every close that has a cause; without a listener it would be thrown.
        let cause: Error | undefined
        connection.on('error', (err: Error) => { cause = err })
        const channel = await connection.createConfirmChannel()
        channel.on('error', (err: Error) => { cause = err })
        const session = new Session(connection, channel)
        connection.on('close', () => session.close())
        channel.on('close', () => session.close())
        await declareTopology(channel, this.o.topology)
        await channel.prefetch(this.o.prefetch)
        this.session = session
        if (this.stopping) {
          await connection.close().catch(() => {})
          break
        }
        const { consumerTag } = await channel.consume(this.o.topology.queue, msg => this.deliver(session, msg), { noAck: false })
        session.consumerTag = consumerTag
        this.stats.connections++
        this.stats.consuming = true
        attempt = 0
        this.connectLog.reset()
        log.info({ url: redactUrl(url), queue: this.o.topology.queue, exchange: this.o.topology.exchange, prefetch: this.o.prefetch }, 'consuming')
        for (const resolve of this.consumingListeners.splice(0)) resolve()
        await session.ended
        this.stats.consuming = false
        if (!this.stopping) log.warn({ err: cause?.message }, 'the channel to RabbitMQ closed; unacknowledged signals go back to the queue; reconnecting')
        // A channel can close on its own (a protocol error); its connection goes with it, to start over clean.
        await connection.close().catch(() => {})
      } catch (err) {
        this.stats.consuming = false
        const held = this.connectLog.take()
        if (held >= 0) log.warn({ code: (err as { code?: unknown }).code, err: describe(err), heldBack: held }, 'cannot consume from RabbitMQ; retrying')
        await connection?.close().catch(() => {})
      }
      if (this.stopping) break
      await this.sleeper.sleep(backoff(attempt++, this.o.retryMinMs, this.o.retryMaxMs))
    }
    this.stats.consuming = false
  }

  private deliver (session: Session, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // RabbitMQ cancelled the consumer (the queue was deleted): start over, which declares the queue again.
      this.o.log.warn({ queue: this.o.topology.queue }, 'RabbitMQ cancelled the consumer; reconnecting')
      void session.connection.close().catch(() => {})
      return
    }
    if (session.closed) return
    this.stats.received++
    if (msg.fields.redelivered) this.stats.redelivered++
    session.pending.push(msg)
    this.schedule(session)
  }

  private schedule (session: Session): void {
    if (session.writing || session.closed) return
    if (session.pending.length >= this.batchSize || this.o.batchMs === 0) {
      void this.flush(session)
    } else if (session.timer === undefined) {
      session.timer = setTimeout(() => { void this.flush(session) }, this.o.batchMs)
    }
  }

  /** Writes and acknowledges one batch at a time, for as long as deliveries are pending. */
  private async flush (session: Session): Promise<void> {
    clearTimeout(session.timer)
    session.timer = undefined
    if (session.writing) return
    while (!session.closed && session.pending.length > 0) {
      session.writing = true
      const batch = session.pending.splice(0, this.batchSize)
      try {
        await this.process(session, batch)
      } catch (err) {
        // Unexpected: give the deliveries back to RabbitMQ by closing the channel, and start over.
        this.o.log.error({ err }, 'a batch failed; closing the channel so that RabbitMQ delivers it again')
        await session.channel.close().catch(() => {})
        session.close()
      } finally {
        session.writing = false
      }
    }
    session.notifyIdle()
  }

  /** Stores the valid signals, dead-letters the invalid ones, then acknowledges the whole batch at once. */
  private async process (session: Session, batch: ConsumeMessage[]): Promise<void> {
    const now = Date.now()
    const valid: Signal[] = []
    const invalid: Array<{ msg: ConsumeMessage, error: Rejection, reason: string }> = []
    for (const msg of batch) {
      const checked = checkSignal(msg.content, this.o.limits, now)
      if (checked.ok) valid.push(checked.signal)
      else invalid.push({ msg, error: checked.error, reason: checked.reason })
    }
    if (valid.length > 0 && !await this.store(session, valid)) return
    if (invalid.length > 0 && !await this.deadLetter(session, invalid)) return
    if (session.closed) return
    try {
      // Every delivery up to the batch's last is either in this batch or in an earlier one, already acknowledged.
      session.channel.ack(batch[batch.length - 1], true)
    } catch {
      // The channel closed meanwhile: the batch will be delivered again, and written again to the same cells.
      return
    }
    this.stats.stored += valid.length
    this.stats.deadLettered += invalid.length
    this.stats.batches++
    this.o.log.debug({ signals: valid.length, deadLetters: invalid.length, stored: this.stats.stored, deadLettered: this.stats.deadLettered }, 'batch acknowledged')
  }

  /** Writes the signals until HBase acknowledges them; false if the session closed first (they will come again). */
  private async store (session: Session, signals: Signal[]): Promise<boolean> {
    const h = this.o.hbase
    for (let attempt = 0; ; attempt++) {
      if (session.closed) return false
      try {
        if (this.hbase === undefined || !this.hbase.isOpen) {
          await this.hbase?.close()
          this.hbase = await HBaseClient.connect({ host: h.host, port: h.port, connectTimeoutMs: 5000, requestTimeoutMs: h.requestTimeoutMs })
        }
        await writeSignals(this.hbase, h.table, signals, h.saltBuckets)
        if (attempt > 0) this.o.log.info({ attempts: attempt + 1 }, 'signals stored after retrying')
        this.storeLog.reset()
        return true
      } catch (err) {
        this.stats.storeRetries++
        const held = this.storeLog.take()
        if (held >= 0) this.o.log.warn({ code: errors.SIGNAL_STORE_RETRY.code, err: describe(err), table: h.table, signals: signals.length, attempt, heldBack: held }, errors.SIGNAL_STORE_RETRY.message)
      }
      if (this.stopping) {
        // A stop does not wait for HBase to come back: the batch stays in the queue.
        session.close()
        return false
      }
      await this.sleepWhileOpen(session, backoff(attempt, this.o.retryMinMs, this.o.retryMaxMs))
    }
  }

  private async sleepWhileOpen (session: Session, ms: number): Promise<void> {
    await Promise.race([this.sleeper.sleep(ms), session.ended])
  }

  /**
   * Publishes each invalid message to the dead-letter exchange with its reason in the headers, and waits for
   * RabbitMQ to confirm them. If one is not confirmed, the channel is closed, so that the batch comes again.
   */
  private async deadLetter (session: Session, invalid: Array<{ msg: ConsumeMessage, error: Rejection, reason: string }>): Promise<boolean> {
    const { channel } = session
    const t = this.o.topology
    const confirms = invalid.map(async ({ msg, error, reason }) => {
      this.o.log.warn({ code: errors.SIGNAL_REJECTED.code, error, reason, bytes: msg.content.length, redelivered: msg.fields.redelivered, messageId: msg.properties.messageId }, errors.SIGNAL_REJECTED.message)
      const p = msg.properties
      const headers = {
        [ERROR_HEADER]: error,
        [REASON_HEADER]: reason,
        'x-spoor-queue': t.queue,
        'x-spoor-rejected-at': new Date().toISOString()
      }
      const options = { persistent: true, contentType: p.contentType, contentEncoding: p.contentEncoding, messageId: p.messageId, timestamp: p.timestamp, appId: p.appId, type: p.type, correlationId: p.correlationId }
      await new Promise<void>((resolve, reject) => {
        const done = (err: unknown): void => { if (err == null) resolve(); else reject(err instanceof Error ? err : new Error(String(err))) }
        try {
          channel.publish(t.deadLetterExchange, msg.fields.routingKey, msg.content, { ...options, headers: { ...p.headers, ...headers } }, done)
        } catch {
          // The message's own headers could not be encoded again (too large); the reason alone goes with it.
          channel.publish(t.deadLetterExchange, msg.fields.routingKey, msg.content, { ...options, headers }, done)
        }
      })
    })
    const results = await Promise.allSettled(confirms)
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed === undefined) return true
    if (!session.closed) {
      this.o.log.error({ err: describe(failed.reason), exchange: t.deadLetterExchange }, 'RabbitMQ did not confirm a dead letter; closing the channel so that the batch comes again')
      await channel.close().catch(() => {})
      session.close()
    }
    return false
  }
}
