// Publishes signals with publisher confirms, as an application should: each publish resolves only once RabbitMQ has
// taken responsibility for the message (persistent, on a durable queue), and what was not confirmed when a
// connection dropped is published again on the next one. Used by `spoor recommend publish` and the tests.

import { randomUUID } from 'node:crypto'
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib'
import { SpoorError } from '../errors'
import { RateLimit, type Logger } from '../log'
import { backoff, describe, openConnection, Sleeper } from './amqp'
import type { Signal } from './signal'
import { declareTopology, type Topology } from './topology'

export interface PublisherOptions {
  /** RabbitMQ (`recommend.amqp_url`). */
  url: string
  topology: Topology
  /**
   * Also declare the store queue and the dead-letter queue with their bindings, so that signals published before
   * the consumer's first start are kept. Default true; an application that only has the exchange's name declares
   * the exchange alone.
   */
  declareQueues?: boolean
  /** A publish not confirmed within this many ms rejects. Default 60000. */
  timeoutMs?: number
  /** Backoff of reconnections. Defaults 100 and 5000 ms. */
  retryMinMs?: number
  retryMaxMs?: number
  /** Told of reconnections; silent without one. */
  log?: Logger
}

interface Outgoing {
  body: Buffer
  routingKey: string
  /** The message id, which tells a returned message's publish. */
  messageId: string
  /** The channel it was last sent on; undefined while it waits to be sent (again). */
  sentOn: ConfirmChannel | undefined
  resolve: () => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

/** What can be published: a signal, which is sent as JSON, or a message body as it is. */
export type Publishable = Signal | Buffer | string

export class SignalPublisher {
  private connection: ChannelModel | undefined
  private channel: ConfirmChannel | undefined
  private readonly outgoing = new Map<string, Outgoing>()
  /** Message ids RabbitMQ returned as unroutable, until their confirm arrives. */
  private readonly returned = new Set<string>()
  private closing = false
  private reconnecting: Promise<void> | undefined
  private readonly sleeper = new Sleeper()
  /** Reconnection failures: the first logged at once, then one every 10 s with the count held back. */
  private readonly retryLog = new RateLimit(10000)
  private readonly o: Required<Omit<PublisherOptions, 'log'>> & Pick<PublisherOptions, 'log'>

  private constructor (options: PublisherOptions) {
    this.o = { declareQueues: true, timeoutMs: 60000, retryMinMs: 100, retryMaxMs: 5000, ...options }
  }

  /** Connects and declares the topology; rejects with SPOOR_E_AMQP_UNAVAILABLE when RabbitMQ cannot be reached. */
  static async connect (options: PublisherOptions): Promise<SignalPublisher> {
    const publisher = new SignalPublisher(options)
    await publisher.open()
    return publisher
  }

  /** Messages published and not yet confirmed. */
  get unconfirmed (): number {
    return this.outgoing.size
  }

  /**
   * Publishes one message, persistent and mandatory, and resolves once RabbitMQ confirms it. Rejects with
   * SPOOR_E_PUBLISH_FAILED when no queue is bound to the exchange (RabbitMQ returned it: it would have been lost),
   * or when it is not confirmed within timeoutMs across reconnections.
   */
  async publish (message: Publishable, routingKey = ''): Promise<void> {
    if (this.closing) throw new SpoorError('PUBLISH_FAILED', 'the publisher is closed')
    const body = Buffer.isBuffer(message) ? message : Buffer.from(typeof message === 'string' ? message : JSON.stringify(message))
    await new Promise<void>((resolve, reject) => {
      const messageId = randomUUID()
      const entry: Outgoing = {
        body,
        routingKey,
        messageId,
        sentOn: undefined,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.outgoing.delete(messageId)
          reject(new SpoorError('PUBLISH_FAILED', `not confirmed within ${this.o.timeoutMs} ms`))
        }, this.o.timeoutMs)
      }
      this.outgoing.set(messageId, entry)
      this.send(entry)
    })
  }

  /** Waits for every publish to be settled, then closes the connection. */
  async close (): Promise<void> {
    await Promise.allSettled([...this.outgoing.values()].map(async e => await new Promise<void>(resolve => {
      const { resolve: res, reject } = e
      e.resolve = () => { res(); resolve() }
      e.reject = err => { reject(err); resolve() }
    })))
    this.closing = true
    this.sleeper.wake()
    await this.connection?.close().catch(() => {})
  }

  private send (entry: Outgoing): void {
    const channel = this.channel
    if (channel === undefined) {
      void this.reconnect()
      return
    }
    entry.sentOn = channel
    const done = (err: unknown): void => {
      const current = this.outgoing.get(entry.messageId)
      if (current === undefined || current.sentOn !== channel) return
      if (err != null) {
        // A nack, or the channel closed before the confirm: RabbitMQ may or may not have the message, so it is sent
        // again (the consumer stores a signal once whatever the number of copies).
        current.sentOn = undefined
        if (this.channel === channel) setTimeout(() => { if (current.sentOn === undefined && this.outgoing.has(current.messageId)) this.send(current) }, this.o.retryMinMs)
        return
      }
      this.outgoing.delete(entry.messageId)
      clearTimeout(entry.timer)
      if (this.returned.delete(entry.messageId)) {
        entry.reject(new SpoorError('PUBLISH_FAILED', `no queue is bound to the exchange ${this.o.topology.exchange}, so RabbitMQ would have dropped the message; run \`spoor recommend consume\` once to declare ${this.o.topology.queue}`))
      } else {
        entry.resolve()
      }
    }
    try {
      channel.publish(this.o.topology.exchange, entry.routingKey, entry.body, { persistent: true, mandatory: true, contentType: 'application/json', messageId: entry.messageId }, done)
    } catch (err) {
      // The channel closed under us; the reconnection sends it.
      entry.sentOn = undefined
      this.o.log?.debug({ err: describe(err) }, 'publish on a closed channel')
    }
  }

  private async open (): Promise<void> {
    const connection = await openConnection(this.o.url, `spoor recommend publish (pid ${process.pid})`)
    connection.on('error', () => {})
    try {
      const channel = await connection.createConfirmChannel()
      channel.on('error', () => {})
      channel.on('return', (msg: Message) => {
        const id = msg.properties.messageId as string | undefined
        if (id !== undefined) this.returned.add(id)
      })
      await declareTopology(channel, this.o.topology, this.o.declareQueues)
      const lost = (): void => {
        if (this.channel !== channel) return
        this.channel = undefined
        this.connection = undefined
        for (const e of this.outgoing.values()) if (e.sentOn === channel) e.sentOn = undefined
        if (!this.closing) void this.reconnect()
      }
      channel.on('close', lost)
      connection.on('close', lost)
      this.connection = connection
      this.channel = channel
    } catch (err) {
      await connection.close().catch(() => {})
      throw new SpoorError('AMQP_UNAVAILABLE', `declaring ${this.o.topology.exchange}: ${describe(err)}`)
    }
    for (const e of this.outgoing.values()) if (e.sentOn === undefined) this.send(e)
  }

  /** Connects again with backoff, once at a time, then sends what waits. */
  private async reconnect (): Promise<void> {
    this.reconnecting ??= (async () => {
      for (let attempt = 0; !this.closing && this.channel === undefined; attempt++) {
        await this.sleeper.sleep(backoff(attempt, this.o.retryMinMs, this.o.retryMaxMs))
        if (this.closing) break
        try {
          await this.open()
          this.retryLog.reset()
          this.o.log?.info({ unconfirmed: this.outgoing.size }, 'reconnected to RabbitMQ; publishing again what was not confirmed')
        } catch (err) {
          const held = this.retryLog.take()
          if (held >= 0) this.o.log?.warn({ err: describe(err), attempt, heldBack: held }, 'cannot reach RabbitMQ; retrying')
        }
      }
    })().finally(() => { this.reconnecting = undefined })
    await this.reconnecting
  }
}
