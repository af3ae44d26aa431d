// The `spoor recommend` commands: `consume` (the long-running consumer, systemd/spoor-recommend-consume.service) and
// `publish` (JSON lines from stdin to RabbitMQ, with publisher confirms), `train` (a model generation, on Spark) and
// `serve` (the recommendations' HTTP server, systemd/spoor-recommend.service).

import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Context } from './shared'
import type { Config } from '../config'
import { SpoorError } from '../errors'
import { HBaseClient } from '../hbase/client'
import { createLogger, type Logger } from '../log'
import { sdNotify } from '../native'
import { createNotifier } from '../ops/sd-notify'
import { SignalConsumer } from '../recommend/consumer'
import { SignalPublisher } from '../recommend/publisher'
import { evaluate, printEval } from '../recommend/eval'
import { startRecommendServer } from '../recommend/serve'
import { signalLimits } from '../recommend/signal'
import { topology } from '../recommend/topology'
import { modelsDir, readGeneration, train } from '../recommend/train'
import { checkMaster } from '../reports/reports'

/** `spoor recommend consume|publish|train|serve|eval`. */
export async function recommendCommand ({ config, sub, opts }: Context): Promise<void> {
  switch (sub) {
    case 'train': {
      const master = opts.master ?? config.reports.master
      checkMaster(master, config.reports.sparkSubmit)
      const started = Date.now()
      const name = await train(config, master, started)
      const m = readGeneration(config, name).meta
      console.error(`spoor: model generation ${name} trained in ${((Date.now() - started) / 1000).toFixed(1)} s: ${m.users} users, ${m.items} items, rank ${m.rank}, from ${m.signals} signals and ${m.trackedEvents} tracked events`)
      console.log(join(modelsDir(config), name))
      return
    }
    case 'consume':
      await consume(config)
      return
    case 'publish':
      await publish(config)
      return
    case 'serve':
      await serve(config)
      return
    case 'eval': {
      if (typeof opts.data !== 'string') throw new SpoorError('USAGE', 'recommend eval needs --data FILE, a ratings file such as MovieLens 100K\'s ml-100k.inter')
      const master = opts.master ?? config.reports.master
      checkMaster(master, config.reports.sparkSubmit)
      const result = await evaluate(config, { data: opts.data, master, python: opts.python })
      console.log(opts.json === true ? JSON.stringify(result) : printEval(result))
      return
    }
    default:
      throw new SpoorError('USAGE', `unknown recommend command "${sub ?? ''}"; see spoor --help`)
  }
}

/**
 * Refuses to start when HBase answers and the signals table is not there: every write would fail. HBase not
 * answering is no reason not to start: the consumer retries its writes until it does.
 */
async function checkTable (config: Config, log: Logger): Promise<void> {
  const table = config.recommend.signalsTable
  let client: HBaseClient
  try {
    client = await HBaseClient.connect({ host: config.hbase.host, port: config.hbase.port, connectTimeoutMs: 5000, requestTimeoutMs: config.flush.timeoutMs })
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'HBase does not answer yet; signals wait in the queue until it does')
    return
  }
  try {
    if (!await client.tableExists(table)) throw new SpoorError('SIGNALS_TABLE_MISSING', `${table} at ${config.hbase.host}:${config.hbase.port}; create it with \`spoor hbase init\``)
  } finally {
    await client.close()
  }
}

async function consume (config: Config): Promise<void> {
  const log = createLogger(config.log.level)
  const notifier = createNotifier(sdNotify)
  const r = config.recommend
  await checkTable(config, log)
  const consumer = SignalConsumer.start({
    url: r.amqpUrl,
    topology: topology(config),
    prefetch: r.prefetch,
    batchSize: r.batchSize,
    batchMs: r.batchMs,
    retryMinMs: r.retryMinMs,
    retryMaxMs: r.retryMaxMs,
    limits: signalLimits(config),
    hbase: { host: config.hbase.host, port: config.hbase.port, table: r.signalsTable, saltBuckets: config.hbase.saltBuckets, requestTimeoutMs: config.flush.timeoutMs },
    log
  })
  // Ready once it runs: it keeps (re)connecting on its own, and STATUS= says whether it consumes.
  notifier.ready()
  const stopWatchdog = notifier.startWatchdog(err => log.error({ err }, 'sd_notify watchdog ping failed'))
  const s = consumer.stats
  let last = { stored: -1, deadLettered: -1 }
  const status = (): void => {
    notifier.status(`${s.consuming ? `consuming ${r.queue}` : 'waiting for RabbitMQ'}; ${s.stored} signals stored, ${s.deadLettered} dead-lettered, ${s.storeRetries} HBase retries`)
    if (s.stored !== last.stored || s.deadLettered !== last.deadLettered) {
      log.info({ ...s }, 'signals')
      last = { stored: s.stored, deadLettered: s.deadLettered }
    }
  }
  const timer = setInterval(status, 10000).unref()
  await new Promise<void>(resolve => {
    let stopping = false
    const stop = (): void => {
      if (stopping) {
        log.warn('second signal: exiting at once; unacknowledged signals go back to the queue')
        process.exit(1)
      }
      stopping = true
      notifier.stopping()
      resolve()
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  })
  await consumer.stop(config.shutdown.timeoutSeconds * 1000)
  clearInterval(timer)
  stopWatchdog()
  log.info({ ...s }, 'stopped')
}

async function serve (config: Config): Promise<void> {
  const log = createLogger(config.log.level)
  const notifier = createNotifier(sdNotify)
  const server = await startRecommendServer(config, log)
  console.error(`spoor: recommendations on http://${config.recommend.serveHost}:${server.port}/, ${server.generation() === undefined ? 'waiting for a model generation' : `generation ${server.generation()!}`}`)
  notifier.ready()
  const stopWatchdog = notifier.startWatchdog(err => log.error({ err }, 'sd_notify watchdog ping failed'))
  const timer = setInterval(() => notifier.status(server.generation() === undefined ? 'waiting for a model generation' : `serving generation ${server.generation()!}`), 10000).unref()
  await new Promise<void>(resolve => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  notifier.stopping()
  clearInterval(timer)
  stopWatchdog()
  await server.close()
  log.info('stopped')
}

/** Messages in flight at once; each line waits for its confirm, so this bounds memory, not correctness. */
const PUBLISH_WINDOW = 1000

async function publish (config: Config): Promise<void> {
  const log = createLogger(config.log.level === 'info' ? 'warn' : config.log.level)
  const r = config.recommend
  const publisher = await SignalPublisher.connect({ url: r.amqpUrl, topology: topology(config), retryMinMs: r.retryMinMs, retryMaxMs: r.retryMaxMs, log })
  const failures: string[] = []
  let lines = 0
  let confirmed = 0
  const inFlight = new Set<Promise<void>>()
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    lines++
    if (line.trim() === '') continue
    const n = lines
    const p: Promise<void> = publisher.publish(line).then(
      () => { confirmed++ },
      (err: Error) => { failures.push(`line ${n}: ${err.message}`) }
    ).finally(() => inFlight.delete(p))
    inFlight.add(p)
    if (inFlight.size >= PUBLISH_WINDOW) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  await publisher.close()
  console.error(`spoor: ${confirmed} signal${confirmed === 1 ? '' : 's'} published to ${r.exchange} and confirmed by RabbitMQ`)
  if (failures.length > 0) {
    for (const f of failures.slice(0, 20)) console.error(`spoor: ${f}`)
    throw new SpoorError('PUBLISH_FAILED', `${failures.length} of ${failures.length + confirmed} not confirmed`)
  }
}
