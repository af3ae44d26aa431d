#!/usr/bin/env node
// The `spoor` command: run the collector, run a local HBase, create the schema, read events back, erase a user, and run and show reports.

import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { EventBuffer } from './pipeline/buffer'
import { createMetrics, startAdmin } from './ops/admin'
import { startCollector, type Collector } from './pipeline/collector'
import { configPath, loadConfig, type Config } from './config'
import { writeDemoData } from './reports/demo-data'
import { eraseUser, erasureId, type Erasure } from './hbase/erase'
import { SpoorError } from './errors'
import { HBaseClient } from './hbase/client'
import { scanPrefix, scanTimeRange, type Row } from './hbase/reader'
import { ensureSchema } from './hbase/schema'
import { ID_TYPES, parseId, resolveUser, type Resolution } from './hbase/identity'
import type { LocalHBase } from './dev/local-hbase'
import { createLogger, type Logger } from './log'
import { sdNotify, userRowPrefix } from './native'
import { reportCsv, reportText } from './reports/report-print'
import { checkMaster, checkReportsTable, checkWindow, dayWindow, DEFAULT_PARAMS, readReport, reportDef, runJob, type Report, type ReportParams } from './reports/reports'
import { createNotifier, type Notifier } from './ops/sd-notify'
import { dashboardCommand, startDashboard } from './dashboard/command'

const USAGE = `usage: spoor <command> [options]

commands:
  serve                      run the collector (HBase must be reachable)
  dev                        start a local HBase, create the schema and run the collector with the demo page
  hbase start|stop           start or stop the local single-node HBase (data in .spoor/hbase)
  hbase init [--ttl S]       create the event tables, pre-split; idempotent; --ttl overrides hbase.ttl_seconds
  hbase shell [-- ARGS]      open an HBase shell (list, describe, scan) on the local HBase
  user UID [--limit N]       one user's events, newest first
  identity ID [--probabilistic]
                             the ids linked to ID (written t:value, e.g. l:alice or u:<uid>) and the
                             canonical user they resolve to; --probabilistic walks fingerprints too
  erase --user ID [--dry-run]
                             delete every row of one user from every table: the ids linked to ID (t:value,
                             or a plain uid), their events and identity rows, and other ids' links to them;
                             prints the counts; --dry-run counts without deleting; safe to run again
  range --from T --to T [--limit N]
                             events between two times (ISO 8601 or ms since the epoch), newest first
  report run NAME (--from T --to T | --day D) [params] [--with-bots] [--force] [--master URL]
                             compute a report over [from, to) with Spark (jobs/) and store it in
                             hbase.reports_table; a stored window is recomputed only with --force.
                             --day D is the UTC day D: yesterday, today or YYYY-MM-DD. --master runs
                             the job on a cluster instead of reports.master: spark://HOST:7077, or
                             yarn and others through reports.spark_submit.
                             Reports (docs/reports.md) and their params:
                               traffic     [--top N]           visitors, sessions, pages, sources, clients
                               platforms   [--platforms a,b]   people on each platform, each pair, all
                               channel     [--channel X]       a channel's items by country (default: all)
  report show NAME (--from T --to T | --day D) [params] [--with-bots] [--json | --csv]
                             print a stored report; needs no Spark
  demo-data --events N --days D [--seed S]
                             write N synthetic events (web sites and apps, logins, bots, retries, countries)
                             spread over the last D days, through the collector's encoder, sessions, buffer
                             (<data_dir>/demo-data) and flush, so that reports have something to show; waits
                             until HBase has acknowledged them (docs/reports.md#demo-data)
  dashboard [hash-password NAME]
                             serve the web dashboard on dashboard.host:dashboard.port (docs/dashboard.md);
                             hash-password prints a dashboard.users entry for the password on standard input
  buffer                     unflushed batches and dead letters in the buffer
  buffer replay              move the dead letters back into the running collector's buffer, once
                             their cause is fixed (through the admin listener)
  config check FILE          check a config file and exit non-zero with the problem

options:
  --config FILE              TOML config (default: $SPOOR_CONFIG, else /etc/spoor/spoor.toml if it exists,
                             else the built-in defaults; see docs/configuration.md)
  --json                     print events as JSON lines (identity, erase and report: one JSON object)
  --csv                      report show: one CSV table (section, key, counts)
  --hbase-dir DIR            local HBase directory (default .spoor/hbase)
`

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    config: { type: 'string' },
    limit: { type: 'string', default: '100' },
    from: { type: 'string' },
    to: { type: 'string' },
    day: { type: 'string' },
    master: { type: 'string' },
    ttl: { type: 'string' },
    json: { type: 'boolean', default: false },
    csv: { type: 'boolean', default: false },
    top: { type: 'string', default: String(DEFAULT_PARAMS.top) },
    'with-bots': { type: 'boolean', default: false },
    platforms: { type: 'string' },
    channel: { type: 'string' },
    force: { type: 'boolean', default: false },
    events: { type: 'string' },
    days: { type: 'string' },
    seed: { type: 'string', default: '1' },
    probabilistic: { type: 'boolean', default: false },
    user: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    'hbase-dir': { type: 'string', default: '.spoor/hbase' },
    help: { type: 'boolean', short: 'h', default: false }
  }
})

/** The local HBase of the development commands; daemon/dev/ is loaded only by them, never by `serve`. */
function localHBase (config: Config): LocalHBase {
  const { LocalHBase } = require('./dev/local-hbase') as typeof import('./dev/local-hbase')
  return new LocalHBase({ dir: resolve(opts['hbase-dir'] as string), thriftPort: config.hbase.port })
}

async function withClient<T> (config: Config, fn: (client: HBaseClient) => Promise<T>): Promise<T> {
  const where = `${config.hbase.host}:${config.hbase.port}`
  const client = await HBaseClient.connect({ host: config.hbase.host, port: config.hbase.port, connectTimeoutMs: 5000, requestTimeoutMs: 60000 })
    .catch((err: Error) => { throw new SpoorError('HBASE_UNAVAILABLE', `no Thrift2 gateway at ${where} (${err.message}); start one with \`spoor hbase start\``) })
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

async function init (config: Config, ttl?: string): Promise<void> {
  const ttlSeconds = ttl != null ? parseInteger(ttl, '--ttl') : config.hbase.ttlSeconds
  const outcome = await withClient(config, async c => await ensureSchema(c, {
    userTable: config.hbase.userTable,
    timeTable: config.hbase.timeTable,
    identityTable: config.hbase.identityTable,
    reportsTable: config.hbase.reportsTable,
    saltBuckets: config.hbase.saltBuckets,
    ttlSeconds: ttlSeconds > 0 ? ttlSeconds : undefined,
    reportsTtlSeconds: config.reports.ttlSeconds > 0 ? config.reports.ttlSeconds : undefined
  }))
  for (const [table, what] of Object.entries(outcome)) console.log(`${table}: ${what}`)
}

function parseInteger (text: string, name: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 0) throw new SpoorError('USAGE', `${name} must be a non-negative integer, not "${text}"`)
  return n
}

function parseTime (text: string | undefined, name: string, command = 'range'): number {
  if (text == null) throw new SpoorError('USAGE', `${command} needs ${name}`)
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text)
  if (Number.isNaN(ms)) throw new SpoorError('USAGE', `${name} is not a time: "${text}"`)
  return ms
}

function printRows (rows: Row[]): void {
  for (const row of rows) {
    if (opts.json) {
      console.log(JSON.stringify({ ts: row.ts, ...row.cells }))
      continue
    }
    const c = row.cells
    const rest = Object.entries(c).filter(([k]) => !['uid', 'a', 'url'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ')
    console.log(`${new Date(row.ts).toISOString()}  ${c.uid ?? '-'}  ${c.a ?? '-'}  ${c.url ?? '-'}  ${rest}`)
  }
  if (!opts.json) console.log(`(${rows.length} event${rows.length === 1 ? '' : 's'})`)
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

async function main (): Promise<void> {
  const [command, sub, arg] = positionals
  if (opts.help || command == null) {
    console.log(USAGE)
    return
  }
  if (command === 'config' && sub === 'check') {
    loadConfig(arg)
    console.log(`${arg}: ok`)
    return
  }
  const path = configPath(opts.config)
  const config = loadConfig(path)

  switch (command) {
    case 'serve':
      await serve(config, path, () => {})
      return
    case 'dev': {
      const hbase = localHBase(config)
      console.log('starting the local HBase (the first start downloads its jars with Maven)…')
      await hbase.start()
      await init(config)
      config.server.demo = true
      // No load balancer to tell in development: Ctrl-C stops at once.
      config.shutdown.drainSeconds = 0
      const dashboard = await startDashboard(config, createLogger(config.log.level))
      await serve(config, path, collector => {
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
      return
    }
    case 'hbase':
      if (sub === 'start') {
        await localHBase(config).start()
        console.log(`HBase Thrift2 gateway on 127.0.0.1:${config.hbase.port}`)
      } else if (sub === 'stop') {
        await localHBase(config).stop()
        console.log('HBase stopped')
      } else if (sub === 'init') {
        await init(config, opts.ttl)
      } else if (sub === 'shell') {
        const hbase = localHBase(config)
        const { openShell } = require('./dev/hbase-shell') as typeof import('./dev/hbase-shell')
        process.exitCode = await openShell({ dir: join(resolve(opts['hbase-dir'] as string), 'shell'), zkPort: hbase.ports.zk, args: positionals.slice(2) })
          .catch((err: Error) => { throw new SpoorError('HBASE_UNAVAILABLE', err.message) })
      } else {
        throw new SpoorError('USAGE', `unknown hbase command "${sub ?? ''}"; see spoor --help`)
      }
      return
    case 'user': {
      if (sub == null) throw new SpoorError('USAGE', 'user needs a UID')
      const limit = parseInteger(opts.limit as string, '--limit')
      printRows(await withClient(config, async c => await scanPrefix(c, config.hbase.userTable, userRowPrefix(sub, config.hbase.saltBuckets), limit)))
      return
    }
    case 'identity': {
      if (sub == null) throw new SpoorError('USAGE', 'identity needs an ID written t:value, such as l:alice')
      try {
        parseId(sub)
      } catch (err) {
        throw new SpoorError('USAGE', (err as Error).message)
      }
      const options = { identityTable: config.hbase.identityTable, saltBuckets: config.hbase.saltBuckets, probabilistic: opts.probabilistic as boolean }
      printResolution(await withClient(config, async c => await resolveUser(c, options, sub)))
      return
    }
    case 'erase': {
      if (opts.user == null) throw new SpoorError('USAGE', 'erase needs --user ID, written t:value (such as l:alice) or a plain uid')
      let id: string
      try {
        id = erasureId(opts.user)
      } catch (err) {
        throw new SpoorError('USAGE', (err as Error).message)
      }
      const h = config.hbase
      const options = { userTable: h.userTable, timeTable: h.timeTable, identityTable: h.identityTable, saltBuckets: h.saltBuckets, dryRun: opts['dry-run'] as boolean }
      printErasure(await withClient(config, async c => await eraseUser(c, options, id)), h)
      return
    }
    case 'range': {
      const from = parseTime(opts.from, '--from')
      const to = parseTime(opts.to, '--to')
      const limit = parseInteger(opts.limit as string, '--limit')
      printRows(await withClient(config, async c => await scanTimeRange(c, config.hbase.timeTable, config.hbase.saltBuckets, from, to, limit)))
      return
    }
    case 'report':
      await report(config, sub, arg)
      return
    case 'demo-data':
      await demoData(config)
      return
    case 'dashboard':
      await dashboardCommand(config, sub, arg)
      return
    case 'buffer': {
      if (sub === 'replay') {
        const url = `http://${config.admin.host}:${config.admin.port}/dead-letters/replay`
        const res = await fetch(url, { method: 'POST' })
          .catch((err: Error) => { throw new SpoorError('ADMIN_UNAVAILABLE', `${url}: ${err.message}; is the collector running, with admin.enabled?`) })
        if (!res.ok) throw new SpoorError('ADMIN_UNAVAILABLE', `${url} answered ${res.status}: ${await res.text()}`)
        console.log(`dead letters moved back into the buffer: ${((await res.json()) as { replayed: number }).replayed}`)
        return
      }
      const buffer = new EventBuffer(config.dataDir)
      console.log(`unflushed: ${buffer.batchCount} batches, ${buffer.size} bytes`)
      let dead = 0
      for (const d of buffer.deadLetters()) {
        dead++
        console.log(`dead letter ${d.seq}: ${d.batch.length} bytes at ${new Date(d.at).toISOString()}: ${d.reason}`)
      }
      console.log(`dead letters: ${dead}`)
      await buffer.close()
      return
    }
    default:
      throw new SpoorError('USAGE', `unknown command "${command}"; see spoor --help`)
  }
}

/** `spoor report run|show NAME`: the checks that need no HBase come first, so bad input fails at once. */
async function report (config: Config, sub: string | undefined, name: string | undefined): Promise<void> {
  if (sub !== 'run' && sub !== 'show') throw new SpoorError('USAGE', `unknown report command "${sub ?? ''}"; see spoor --help`)
  if (name == null) throw new SpoorError('USAGE', `report ${sub} needs a report name`)
  reportDef(name)
  if (opts.day != null && (opts.from != null || opts.to != null)) throw new SpoorError('USAGE', '--day is a window of its own: give it or --from and --to, not both')
  const { from, to } = opts.day != null
    ? dayWindow(opts.day, Date.now())
    : { from: parseTime(opts.from, '--from', `report ${sub}`), to: parseTime(opts.to, '--to', `report ${sub}`) }
  checkWindow(from, to)
  // Only a run needs Spark: show reads a stored row whatever the master.
  const master = opts.master ?? config.reports.master
  if (sub === 'run') checkMaster(master, config.reports.sparkSubmit)
  const top = parseInteger(opts.top as string, '--top')
  if (top < 1) throw new SpoorError('USAGE', '--top must be at least 1')
  const platforms = opts.platforms === undefined ? [] : (opts.platforms as string).split(',').map(p => p.trim())
  if (platforms.some(p => p === '')) throw new SpoorError('USAGE', '--platforms takes platform names separated by commas, such as web,android')
  const channel = opts.channel as string | undefined
  if (channel === '') throw new SpoorError('USAGE', '--channel needs a channel name')
  const params: ReportParams = { top, withBots: opts['with-bots'] as boolean, platforms, channel }
  const table = config.hbase.reportsTable
  const stored = async (): Promise<Report | undefined> => await withClient(config, async c => {
    await checkReportsTable(c, table)
    return await readReport(c, table, name, from, to, params)
  })
  let found = await stored()
  if (sub === 'run') {
    if (found !== undefined && !(opts.force as boolean)) {
      console.error(`spoor: this window is already stored (computed ${found.meta.computedAt}); --force recomputes it`)
    } else {
      const started = Date.now()
      const logFile = join(config.dataDir, 'reports', `${name}.log`)
      await runJob(config, { name, from, to, params, master, logFile })
      found = await stored()
      if (found === undefined) throw new SpoorError('REPORT_FAILED', `the job exited 0 but no complete row is stored (log: ${logFile})`)
      console.error(`spoor: ${name} computed in ${((Date.now() - started) / 1000).toFixed(1)} s and stored in ${table}`)
    }
  }
  if (found === undefined) throw new SpoorError('REPORT_NOT_FOUND', `${name} over [${new Date(from).toISOString()}, ${new Date(to).toISOString()}); compute it with \`spoor report run\``)
  if (opts.json as boolean) console.log(JSON.stringify(found))
  else if (opts.csv as boolean) console.log(reportCsv(found))
  else console.log(reportText(found))
}

/** `spoor demo-data`: its options are checked before HBase is reached, so bad input fails at once. */
async function demoData (config: Config): Promise<void> {
  const integer = (text: string | undefined, name: string, min: number): number => {
    if (text == null) throw new SpoorError('USAGE', `demo-data needs ${name}`)
    const n = /^\d+$/.test(text) ? Number(text) : NaN
    if (!Number.isSafeInteger(n) || n < min) throw new SpoorError('USAGE', `${name} must be ${min > 0 ? 'a positive' : 'a non-negative'} integer, not "${text}"`)
    return n
  }
  const events = integer(opts.events, '--events', 1)
  const days = integer(opts.days, '--days', 1)
  const seed = integer(opts.seed, '--seed', 0)
  // The flush's own warnings (retries) go to stderr; stdout is the summary.
  const log = createLogger(config.log.level === 'info' ? 'warn' : config.log.level)
  // The flush retries for ever, as a collector's should; an HBase that is not there at all is said at once instead.
  await withClient(config, async () => {})
  const started = Date.now()
  const r = await writeDemoData(config, log, {
    events,
    days,
    seed,
    onProgress: (encoded, delivered) => console.error(`spoor: ${encoded} events generated, ${delivered} acknowledged by HBase (${((Date.now() - started) / 1000).toFixed(0)} s)`)
  })
  const rate = Math.round(r.events / r.seconds)
  console.log(`wrote ${r.events} events (${r.retries} retries of an earlier event, ${r.bots} from a crawler) from ${r.uids} uids over ${r.days} days,`)
  console.log(`  ${new Date(r.from).toISOString()} to ${new Date(r.to).toISOString()}; ${r.loggedInOnTwoPlatforms} logins seen on two platforms`)
  console.log(`  ${r.batches} batches acknowledged by HBase (${config.hbase.timeTable}, ${config.hbase.userTable}, ${config.hbase.identityTable}) in ${r.seconds.toFixed(1)} s, ${rate} events/s`)
}

function printResolution (r: Resolution): void {
  if (opts.json as boolean) {
    console.log(JSON.stringify(r))
    return
  }
  console.log(`canonical user: ${r.canonical}`)
  console.log(`linked ids (${r.ids.length}${r.truncated ? ', the walk stopped at its limit' : ''}):`)
  for (const id of r.ids) console.log(`  ${id.padEnd(40)} ${ID_TYPES[id[0]]}`)
  if (r.logins.length > 0) console.log('logins seen with these ids, the most recent first:')
  for (const l of r.logins) console.log(`  ${l.id.padEnd(40)} last seen ${new Date(l.lastSeen).toISOString()}${l.platform !== '' ? ` on ${l.platform}` : ''}`)
}

function printErasure (e: Erasure, tables: Config['hbase']): void {
  if (opts.json as boolean) {
    console.log(JSON.stringify(e))
    return
  }
  console.log(`${e.dryRun ? 'would erase' : 'erased'} ${e.id}${e.dryRun ? ' (dry run: nothing deleted)' : ''}`)
  const line = (n: number, what: string, table: string): void => console.log(`  ${String(n).padStart(8)}  ${what.padEnd(26)} ${table}`)
  line(e.userRows, 'event rows by user', tables.userTable)
  line(e.timeRows, 'event rows by time', tables.timeTable)
  line(e.identityRows, 'identity rows', tables.identityTable)
  line(e.identityCells, 'links in other ids\' rows', tables.identityTable)
  console.log(`ids erased (${e.ids.length}):`)
  for (const id of e.ids) console.log(`  ${id.padEnd(40)} ${ID_TYPES[id[0]]}`)
  if (e.shared.length > 0) console.log(`shared with ${e.otherLogins.join(', ')}, erased with all their events: ${e.shared.join(', ')}`)
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: Error & { code?: string }) => {
    console.error(`spoor: ${err.code != null ? `${err.code}: ` : ''}${err.message}`)
    process.exit(1)
  }
)
