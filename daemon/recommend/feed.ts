// The serving side's signal feed: a queue of the server's own (exclusive, deleted with its connection) bound to the
// signals exchange, so that every server gets every signal as it is published. It keeps reconnecting until stopped,
// and after each connection it asks for what it may have missed, which the server reads from HBase.

import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib'
import type { Config } from '../config'
import { RateLimit, type Logger } from '../log'
import { backoff, describe, openConnection, redactUrl, Sleeper } from './amqp'
import { checkSignal, type Signal, type SignalLimits } from './signal'
import { declareTopology, topology } from './topology'

export interface FeedHooks {
  /** A valid signal, as it arrives. */
  signal: (signal: Signal) => void
  /** An invalid message: the store consumer dead-letters it; the feed only counts it. */
  invalid: () => void
  /** Connected and bound: what was published while no queue of this server was bound is to be read from HBase. */
  connected: () => Promise<void>
}

export class SignalFeed {
  private connection: ChannelModel | undefined
  private stopping = false
  private running: Promise<void> | undefined
  private readonly sleeper = new Sleeper()
  private readonly connectLog = new RateLimit(10000)
  connected = false

  constructor (private readonly config: Config, private readonly limits: SignalLimits, private readonly log: Logger, private readonly hooks: FeedHooks) {}

  start (): void {
    this.running ??= this.run()
  }

  async stop (): Promise<void> {
    this.stopping = true
    this.sleeper.wake()
    await this.connection?.close().catch(() => {})
    await this.running
  }

  private async run (): Promise<void> {
    const r = this.config.recommend
    for (let attempt = 0; !this.stopping;) {
      try {
        const connection = await openConnection(r.amqpUrl, `spoor recommend serve (pid ${process.pid})`)
        this.connection = connection
        const closed = new Promise<Error | undefined>(resolve => {
          let cause: Error | undefined
          connection.on('error', (err: Error) => { cause = err })
          connection.on('close', () => resolve(cause))
        })
        const channel: Channel = await connection.createChannel()
        channel.on('error', () => {})
        const t = topology(this.config)
        await declareTopology(channel, t, false)
        const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false })
        await channel.bindQueue(queue, t.exchange, '')
        await channel.prefetch(r.prefetch)
        await channel.consume(queue, msg => this.deliver(channel, msg), { noAck: false })
        if (this.stopping) break
        this.connected = true
        attempt = 0
        this.connectLog.reset()
        this.log.info({ url: redactUrl(r.amqpUrl), exchange: t.exchange, queue }, 'signal feed consuming')
        await this.hooks.connected().catch((err: unknown) => this.log.warn({ err: describe(err) }, 'the signals published while the feed was away could not be read from HBase; they are folded in with the next generation'))
        const cause = await closed
        this.connected = false
        if (!this.stopping) this.log.warn({ err: cause?.message }, 'the signal feed lost RabbitMQ; reconnecting')
      } catch (err) {
        this.connected = false
        if (this.stopping) break
        const held = this.connectLog.take()
        if (held >= 0) this.log.warn({ err: describe(err), held }, 'the signal feed cannot reach RabbitMQ; retrying')
      }
      if (!this.stopping) await this.sleeper.sleep(backoff(attempt++, r.retryMinMs, r.retryMaxMs))
    }
  }

  private deliver (channel: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) return
    const checked = checkSignal(msg.content, this.limits)
    if (checked.ok) this.hooks.signal(checked.signal)
    else this.hooks.invalid()
    channel.ack(msg)
  }
}
