// `spoor serve` and `spoor dev`: run the collector until a stop signal, with the admin listener and systemd's notifications.

import { resolve } from 'node:path'
import { loadConfig, type Config } from '../config'
import { createLogger, type Logger } from '../log'
import { sdNotify } from '../native'
import { createMetrics, startAdmin } from '../ops/admin'
import { createNotifier, type Notifier } from '../ops/sd-notify'
import { startCollector, type Collector } from '../pipeline/collector'
import { startDashboard } from '../dashboard/server'
import { init, localHBase } from './hbase'
import type { Context } from './shared'

export async function serveCommand (ctx: Context): Promise<void> {
  await serve(ctx.config, ctx.configPath, () => {})
}

/** A local HBase, the schema and the collector with the demo page, all stopped by one Ctrl-C. */
export async function devCommand (ctx: Context): Promise<void> {
  const { config } = ctx
  const hbase = localHBase(ctx)
  console.log('starting the local HBase (the first start downloads its jars with Maven)…')
  await hbase.start()
  await init(config)
  config.server.demo = true
  // No load balancer to tell in development: Ctrl-C stops at once.
  config.shutdown.drainSeconds = 0
  const dashboard = await startDashboard(config, createLogger(config.log.level))
  await serve(config, ctx.configPath, collector => {
    const base = `http://${config.server.host}:${collector.port}`
    console.log(`
spoor is collecting on ${base}
  demo page   ${base}/            fires a pixel and a POST batch, then shows them read back from HBase
  pixel       ${base}/p.gif?uid=alice&a=page&url=https://example.com/
  batch       curl -d '[{"uid":"alice","a":"like","it":"q42","ch":"db"}]' -H 'content-type: application/json' ${base}/e
  tracker     <script async src="${base}/t.js"></script>, after the snippet in docs/tracker.md
  health      ${base}/healthz
  metrics     http://${config.admin.host}:${config.admin.port}/metrics
  dashboard   ${dashboard.url}     reports, live traffic and one user's events (docs/dashboard.md)
  read back   npx spoor user alice, npx spoor identity u:alice
HBase Thrift2 on ${config.hbase.host}:${config.hbase.port}, data under ${resolve('.spoor')}. Ctrl-C stops both.
`)
  }, async () => { await dashboard.close(); await hbase.stop() })
}

/**
 * Waits for SIGTERM or SIGINT, then drains the collector; a second signal exits at once.
 * SIGHUP reads the config file again and applies it. systemd hears of each step through sd_notify.
 * The handlers go in before the collector starts, so that an early SIGHUP cannot kill the process.
 */
function handleSignals (collector: () => Collector | undefined, path: string | undefined, log: Logger, notifier: Notifier): Promise<void> {
  process.on('SIGHUP', () => {
    const c = collector()
    if (c == null) return
    notifier.reloading()
    try {
      c.reload(loadConfig(path))
    } catch (err) {
      log.error({ err }, 'reload refused; the running config stays')
    }
    notifier.ready()
  })
  return new Promise<void>(resolve => {
    let stopping = false
    const stop = (): void => {
      const c = collector()
      if (c == null) process.exit(1)
      if (stopping) {
        log.warn('second signal: exiting at once; the buffer keeps what was not flushed')
        void c.abort().finally(() => process.exit(1))
        return
      }
      stopping = true
      notifier.stopping()
      notifier.status('draining')
      resolve()
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  })
}

/** Starts the admin listener and the collector, runs until a stop signal, and stops both. */
async function serve (config: Config, path: string | undefined, onStarted: (collector: Collector) => void, onStopped?: () => Promise<void>): Promise<void> {
  const log = createLogger(config.log.level)
  const notifier = createNotifier(sdNotify)
  let collector: Collector | undefined
  const stopRequested = handleSignals(() => collector, path, log, notifier)
  const { registry, hooks } = createMetrics(() => collector?.state, () => collector?.buffer)
  const admin = config.admin.enabled ? await startAdmin(config, registry, () => collector, log) : undefined
  collector = await startCollector(config, log, hooks)
  onStarted(collector)
  notifier.ready()
  const stopWatchdog = notifier.startWatchdog(err => log.error({ err }, 'sd_notify watchdog ping failed'))
  const status = statusReporter(collector)
  notifier.status(status())
  const timer = setInterval(() => notifier.status(status()), 5000).unref()
  await stopRequested
  await collector.close()
  clearInterval(timer)
  stopWatchdog()
  admin?.close()
  await onStopped?.()
}

/** systemd's STATUS= lines: live rates since the last line, and the buffer's size. */
function statusReporter (collector: Collector): () => string {
  const s = collector.state
  let last = { at: Date.now(), accepted: s.eventsAccepted, delivered: s.get('eventsDelivered') }
  return () => {
    const now = { at: Date.now(), accepted: s.eventsAccepted, delivered: s.get('eventsDelivered') }
    const seconds = Math.max((now.at - last.at) / 1000, 0.001)
    const rate = (a: number, b: number): number => Math.round((a - b) / seconds)
    const line = `${rate(now.accepted, last.accepted)} events/s in, ${rate(now.delivered, last.delivered)} events/s to HBase, buffer ${(s.bufferBytes / 1048576).toFixed(1)} MiB`
    last = now
    return line
  }
}
