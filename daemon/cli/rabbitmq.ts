// `spoor rabbitmq start|stop`: the local RabbitMQ of development and the suite; daemon/dev/ is loaded only here.

import type { Context } from './shared'

export async function rabbitmqCommand (ctx: Context): Promise<void> {
  const { rabbitmqCommand: run } = require('../dev/local-rabbitmq') as typeof import('../dev/local-rabbitmq')
  await run(ctx.config.recommend.amqpUrl, ctx.opts['rabbitmq-dir'] as string, ctx.sub)
}
