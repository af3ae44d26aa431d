// The RabbitMQ exchanges and queues that carry recommendation signals, declared the same way by whoever comes first:
// the consumer, `spoor recommend publish`, or (later) the serving process.

import type { Channel } from 'amqplib'
import type { Config } from '../config'

export interface Topology {
  /** Durable fanout exchange the applications publish to (`recommend.exchange`). */
  exchange: string
  /** Durable queue bound to it, which the consumer stores from (`recommend.queue`). */
  queue: string
  /** Durable fanout exchange of the invalid signals (`recommend.dead_letter_exchange`). */
  deadLetterExchange: string
  /** Durable queue bound to it, which keeps them (`recommend.dead_letter_queue`). */
  deadLetterQueue: string
}

export function topology (config: Config): Topology {
  const r = config.recommend
  return { exchange: r.exchange, queue: r.queue, deadLetterExchange: r.deadLetterExchange, deadLetterQueue: r.deadLetterQueue }
}

/** The exchange type: every queue bound to the exchange gets every signal, whatever its routing key. */
export const EXCHANGE_TYPE = 'fanout'

/**
 * Declares the exchange, and with `queues` also the dead-letter exchange and queue and the store queue with their
 * bindings. Every declaration is durable and idempotent; one that differs from what already exists (another type,
 * other arguments) closes the channel with RabbitMQ's PRECONDITION_FAILED, which names the difference.
 */
export async function declareTopology (channel: Channel, t: Topology, queues = true): Promise<void> {
  await channel.assertExchange(t.exchange, EXCHANGE_TYPE, { durable: true, autoDelete: false })
  if (!queues) return
  await channel.assertExchange(t.deadLetterExchange, EXCHANGE_TYPE, { durable: true, autoDelete: false })
  await channel.assertQueue(t.deadLetterQueue, { durable: true, autoDelete: false, exclusive: false })
  await channel.bindQueue(t.deadLetterQueue, t.deadLetterExchange, '')
  // A message RabbitMQ itself rejects from the store queue (a consumer's nack without requeue) goes to the same
  // place as the ones the consumer moves there with a reason.
  await channel.assertQueue(t.queue, { durable: true, autoDelete: false, exclusive: false, deadLetterExchange: t.deadLetterExchange })
  await channel.bindQueue(t.queue, t.exchange, '')
}
