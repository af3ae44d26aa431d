// Rows scanned per second by each report (traffic, platforms, channel) on Spark in local mode, beside HBase's own RowCounter MapReduce job over the same rows.
//
// Usage: node dist/bench/reports.js [--sizes 1000000,4000000] [--hbase-port P --zk-port Z] [--salt-buckets N]
//                                   [--heap-mb N] [--quiet-wait S] [--out DIR]
//   default   sizes 1M and 4M events, the bench's own HBase (started and stopped here), 16 salt buckets,
//             a 2048 MiB heap for every JVM measured, up to 60 s
//             of waiting for a quiet machine before each measurement; results in bench/results/<date>-<host>-reports-<sizes>.{json,md}
// `npm run bench -- --sections reports` runs it as a section of the suite (bench/run.ts).
// Needs a build (`npm run build`, jobs included), JDK 17 and Maven.
//
// For each size S, fresh tables are filled by `spoor demo-data`'s pipeline (daemon/demo-data.ts: the real encoder,
// sessions, buffer and flush) with S events over S / 1M days ending now, so the window grows with the data: 1M events
// are one day. Then, one after another, each on a quiet machine:
// - `spoor report run NAME --from F --to T --force` for traffic, platforms and channel, the window holding every row,
//   under /usr/bin/time -v: wall time and peak RSS (the largest process, the Spark JVM);
// - RowCounter (org.apache.hadoop.hbase.mapreduce.RowCounter, from hbase-mapreduce on the jobs' classpath) over the
//   whole by-time table, which holds exactly the window's rows, with the local MapReduce runner and as many map
//   slots as Spark's local[*] has cores. Its ROWS counter must equal the rows written.
// - the scan floor (bench/java/scan/ScanFloor.java): a Spark job in the reports' JVM layout that reads the traffic
//   report's columns of the window through SpoorRows, as the reports do, and only counts them. A report costs this
//   plus its own work; the floor against RowCounter shows what reading every column through the region server costs.
// Rows per second is the by-time table's rows over the command's wall time, JVM start included on both sides; the
// reports also read the identity table, whose rows are not counted.

import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { defaults, type Config } from '../daemon/config'
import { writeDemoData } from '../daemon/reports/demo-data'
import { HBaseClient } from '../daemon/hbase/client'
import { ensureSchema } from '../daemon/hbase/schema'
import { JDK17_FLAGS, mavenClasspath } from '../daemon/dev/jvm'
import { jobsClasspath, SPARK_JDK17_FLAGS } from '../daemon/reports/reports'
import { LocalHBase } from '../daemon/dev/local-hbase'
import { ROOT, shellLine } from './load'
import { machine, waitQuiet } from './proc'

const REPORTS = ['traffic', 'platforms', 'channel'] as const
const EVENTS_PER_DAY = 1_000_000
/** Its own directory and ports, apart from development (9090), the test suite (19090) and bench/run.ts (29090). */
const HBASE = { thriftPort: 39090, zkPort: 32181, basePort: 16400, heapMb: 3072 }
/** How long each measurement waits at most for the machine to go under 10% busy; a run that gave up is marked NOISY. */
let quietWaitMs = 60_000
const CLI = join(ROOT, 'dist', 'daemon', 'cli.js')

export interface Timed { seconds: number, peakRssMiB: number, command: string }
export interface SizeResult {
  events: number
  days: number
  from: number
  to: number
  load: { seconds: number, eventsPerSecond: number, batches: number, retries: number, bots: number, uids: number }
  reports: Record<string, Timed & { rowsPerSecond: number }>
  rowCounter: Timed & { rows: number, rowsPerSecond: number }
  /** Spark reading the traffic report's columns of the window through SpoorRows and counting them: the reports' floor. */
  scanFloor: Timed & { rows: number, rowsPerSecond: number }
  /** Each report's rows per second over RowCounter's. */
  ratio: Record<string, number>
}

function note (text: string): void {
  process.stderr.write(`${text}\n`)
}

/** Waits, up to --quiet-wait, until the machine is quiet: another engineer's Spark job would slow either side. */
async function quiet (what: string): Promise<void> {
  const q = await waitQuiet(quietWaitMs)
  note(`${what}: machine ${q.busyPct}% busy${q.gaveUp ? ' after waiting (NOISY)' : ''}`)
}

/** Runs argv under /usr/bin/time -v in `cwd`; resolves with its wall time, peak RSS and output. */
async function timed (argv: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ seconds: number, peakRssMiB: number, stdout: string, stderr: string }> {
  return await new Promise((resolve, reject) => {
    execFile('/usr/bin/time', ['-v', ...argv], { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err != null) {
        reject(new Error(`${argv.slice(0, 3).join(' ')} … failed: ${err.message}\n${stderr.trim().split('\n').slice(-30).join('\n')}`))
        return
      }
      const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(stderr)?.[1]
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]
      if (wall === undefined || rss === undefined) {
        reject(new Error(`no figures from /usr/bin/time -v in: ${stderr.slice(-500)}`))
        return
      }
      const seconds = wall.split(':').map(Number).reduce((s, x) => s * 60 + x, 0)
      resolve({ seconds, peakRssMiB: Math.round(Number(rss) / 1024), stdout, stderr })
    })
  })
}

function configToml (c: Config): string {
  return [
    `data_dir = ${JSON.stringify(c.dataDir)}`,
    '[hbase]',
    `host = "127.0.0.1"`, `port = ${c.hbase.port}`, `zookeeper_quorum = ${JSON.stringify(c.hbase.zookeeperQuorum)}`,
    `salt_buckets = ${c.hbase.saltBuckets}`,
    `user_table = "${c.hbase.userTable}"`, `time_table = "${c.hbase.timeTable}"`,
    `identity_table = "${c.hbase.identityTable}"`, `reports_table = "${c.hbase.reportsTable}"`,
    '[reports]',
    `master = ${JSON.stringify(c.reports.master)}`, `heap_mb = ${c.reports.heapMb}`,
    ''
  ].join('\n')
}

export interface ReportsBenchOptions {
  thriftPort: number
  zkPort: number
  sizes: number[]
  saltBuckets: number
  heapMb: number
  dataDir: string
}

async function rowCounter (zkPort: number, table: string, heapMb: number, dataDir: string): Promise<Timed & { rows: number }> {
  const cacheDir = join(ROOT, '.spoor', 'bench-rowcounter')
  mkdirSync(cacheDir, { recursive: true })
  const extra = await mavenClasspath(join(ROOT, 'bench', 'java', 'rowcounter', 'pom.xml'), cacheDir)
  const jobs = join(ROOT, 'jobs', 'target')
  const classpath = `${readFileSync(join(jobs, 'classpath.txt'), 'utf8').trim()}:${extra}`
  const args = (cp: string, log4j: string): string[] => [
    `-Xmx${heapMb}m`, ...JDK17_FLAGS, `-Dlog4j2.configurationFile=${log4j}`, '-cp', cp,
    'org.apache.hadoop.hbase.mapreduce.RowCounter',
    '-Dmapreduce.framework.name=local', `-Dmapreduce.local.map.tasks.maximum=${cpus().length}`,
    `-Dhbase.zookeeper.quorum=127.0.0.1:${zkPort}`, table
  ]
  const log4j = join(ROOT, 'bench', 'java', 'rowcounter', 'log4j2.properties')
  // The local runner writes its job files under the working directory and /tmp/hadoop-<user>.
  const run = await timed(['java', ...args(classpath, log4j)], dataDir)
  const rows = /\bROWS=(\d+)/.exec(run.stderr)?.[1]
  if (rows === undefined) throw new Error(`RowCounter printed no ROWS counter: ${run.stderr.slice(-800)}`)
  return { seconds: run.seconds, peakRssMiB: run.peakRssMiB, rows: Number(rows), command: shellLine(['/usr/bin/time', '-v', 'java', ...args('$(cat jobs/target/classpath.txt):$HADOOP_MAPREDUCE_CLIENT_COMMON_JAR', 'bench/java/rowcounter/log4j2.properties')]) }
}

/** The traffic report's columns (jobs/.../Traffic.java COLUMNS): the widest read of the three reports. */
const TRAFFIC_COLUMNS = 'id,uid,sid,url,ref,a,co,br,os,dt,bot'

/**
 * bench/java/scan/ScanFloor.java, compiled against the jobs' classpath, run as the CLI runs a report (daemon/reports.ts
 * runJob: the same JVM flags, heap and local master): Spark reading the window's rows and counting them.
 */
async function scanFloor (config: Config, from: number, to: number, dataDir: string): Promise<Timed & { rows: number }> {
  const classes = join(ROOT, '.spoor', 'bench-scan-floor')
  mkdirSync(classes, { recursive: true })
  await new Promise<void>((resolve, reject) => execFile('javac', ['-cp', jobsClasspath(), '-d', classes, join(ROOT, 'bench', 'java', 'scan', 'ScanFloor.java')],
    (err, _o, stderr) => err == null ? resolve() : reject(new Error(`javac ScanFloor.java: ${stderr}`))))
  const h = config.hbase
  const argv = ['java', `-Xmx${config.reports.heapMb}m`, ...SPARK_JDK17_FLAGS, '-cp', `${classes}:${jobsClasspath()}`, 'dev.spoor.bench.ScanFloor',
    '--from', String(from), '--to', String(to), '--zk', h.zookeeperQuorum, '--time-table', h.timeTable, '--buckets', String(h.saltBuckets),
    '--columns', TRAFFIC_COLUMNS, '--master', config.reports.master]
  const run = await timed(argv, dataDir, { SPARK_LOCAL_IP: '127.0.0.1', ...process.env })
  const rows = /^ROWS=(\d+)$/m.exec(run.stdout)?.[1]
  if (rows === undefined) throw new Error(`ScanFloor printed no ROWS: ${run.stderr.slice(-800)}`)
  return { seconds: run.seconds, peakRssMiB: run.peakRssMiB, rows: Number(rows), command: shellLine(['/usr/bin/time', '-v', 'java', '…', 'dev.spoor.bench.ScanFloor', ...argv.slice(argv.indexOf('dev.spoor.bench.ScanFloor') + 1)]) }
}

async function benchSize (o: ReportsBenchOptions, events: number): Promise<SizeResult> {
  const days = Math.max(1, Math.round(events / EVENTS_PER_DAY))
  const stamp = `reportsbench_${Date.now()}_${events}`
  const config = defaults()
  const dir = join(o.dataDir, stamp)
  mkdirSync(dir, { recursive: true })
  config.dataDir = dir
  config.hbase = { ...config.hbase, host: '127.0.0.1', port: o.thriftPort, zookeeperQuorum: `127.0.0.1:${o.zkPort}`, saltBuckets: o.saltBuckets, userTable: `${stamp}_user`, timeTable: `${stamp}_time`, identityTable: `${stamp}_identity`, reportsTable: `${stamp}_reports` }
  config.reports = { ...config.reports, heapMb: o.heapMb }
  await HBaseClient.using({ host: '127.0.0.1', port: o.thriftPort, requestTimeoutMs: 120_000 }, async client => {
    await ensureSchema(client, { userTable: config.hbase.userTable, timeTable: config.hbase.timeTable, identityTable: config.hbase.identityTable, reportsTable: config.hbase.reportsTable, saltBuckets: o.saltBuckets })
  })
  const configFile = join(dir, 'spoor.toml')
  writeFileSync(configFile, configToml(config))

  await quiet(`load ${events}`)
  const log = pino({ level: 'warn', base: { svc: 'spoor-bench-reports' } }, pino.destination(2))
  const loaded = await writeDemoData(config, log, { events, days, seed: 1, onProgress: (n, acked) => note(`load: ${n} generated, ${acked} acknowledged`) })
  note(`load: ${loaded.events} events over ${days} days in ${loaded.seconds.toFixed(1)} s`)
  // The window holds every event written: they are all before `to` (the time of the load's start) and after `from`.
  const from = loaded.from
  const to = loaded.to + 1

  const counted = await (async () => {
    await quiet(`rowcounter ${events}`)
    return await rowCounter(o.zkPort, config.hbase.timeTable, o.heapMb, dir)
  })()
  if (counted.rows !== loaded.events) throw new Error(`RowCounter counted ${counted.rows} rows in ${config.hbase.timeTable}; ${loaded.events} were written`)
  note(`rowcounter: ${counted.rows} rows in ${counted.seconds} s, peak RSS ${counted.peakRssMiB} MiB`)

  await quiet(`scan floor ${events}`)
  const floor = await scanFloor(config, from, to, dir)
  if (floor.rows !== loaded.events) throw new Error(`the scan floor read ${floor.rows} rows; ${loaded.events} were written`)
  note(`scan floor: ${floor.rows} rows in ${floor.seconds} s, peak RSS ${floor.peakRssMiB} MiB`)

  const reports: SizeResult['reports'] = {}
  for (const name of REPORTS) {
    await quiet(`${name} ${events}`)
    const argv = [process.execPath, CLI, 'report', 'run', name, '--from', String(from), '--to', String(to), '--force', '--config', configFile]
    const run = await timed(argv, ROOT)
    reports[name] = { seconds: run.seconds, peakRssMiB: run.peakRssMiB, rowsPerSecond: Math.round(counted.rows / run.seconds), command: shellLine(['/usr/bin/time', '-v', 'node', 'dist/daemon/cli.js', ...argv.slice(2, -1), '$CONFIG']) }
    note(`${name}: ${run.seconds} s, peak RSS ${run.peakRssMiB} MiB`)
  }
  const rowCounterRate = counted.rows / counted.seconds
  return {
    events,
    days,
    from,
    to,
    load: { seconds: Math.round(loaded.seconds * 10) / 10, eventsPerSecond: Math.round(loaded.events / loaded.seconds), batches: loaded.batches, retries: loaded.retries, bots: loaded.bots, uids: loaded.uids },
    reports,
    rowCounter: { ...counted, rowsPerSecond: Math.round(rowCounterRate) },
    scanFloor: { ...floor, rowsPerSecond: Math.round(floor.rows / floor.seconds) },
    ratio: Object.fromEntries(REPORTS.map(n => [n, Math.round(100 * reports[n].rowsPerSecond / rowCounterRate) / 100]))
  }
}

export async function reportsBench (o: ReportsBenchOptions): Promise<SizeResult[]> {
  const results: SizeResult[] = []
  for (const size of o.sizes) results.push(await benchSize(o, size))
  return results
}

/** The Markdown summary of a run: one table of rows per second and one of time and memory. */
export function reportsMarkdown (results: SizeResult[]): string {
  const lines = [
    '| events (days) | load, events/s | RowCounter rows/s | scan floor rows/s (×RC) | traffic rows/s (×RC) | platforms rows/s (×RC) | channel rows/s (×RC) |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(r => `| ${r.events.toLocaleString('en')} (${r.days}) | ${r.load.eventsPerSecond.toLocaleString('en')} (${r.load.seconds} s) | ${r.rowCounter.rowsPerSecond.toLocaleString('en')} (${r.rowCounter.seconds} s) | ` +
      `${r.scanFloor.rowsPerSecond.toLocaleString('en')} (${Math.round(100 * r.scanFloor.rowsPerSecond / r.rowCounter.rowsPerSecond) / 100}×, ${r.scanFloor.seconds} s) | ` +
      REPORTS.map(n => `${r.reports[n].rowsPerSecond.toLocaleString('en')} (${r.ratio[n]}×, ${r.reports[n].seconds} s)`).join(' | ') + ' |'),
    '',
    '| events | report | wall s | peak RSS MiB |',
    '| --- | --- | --- | --- |',
    ...results.flatMap(r => [...REPORTS.map(n => `| ${r.events.toLocaleString('en')} | ${n} | ${r.reports[n].seconds} | ${r.reports[n].peakRssMiB} |`),
      `| ${r.events.toLocaleString('en')} | scan floor | ${r.scanFloor.seconds} | ${r.scanFloor.peakRssMiB} |`,
      `| ${r.events.toLocaleString('en')} | RowCounter | ${r.rowCounter.seconds} | ${r.rowCounter.peakRssMiB} |`])
  ]
  return lines.join('\n') + '\n'
}

/**
 * Writes `<out>/<date>-<host>-reports-<sizes>.{json,md}` (sizes such as 1m, 1m-4m): the machine, the command, the
 * commit and every figure; returns the path without extension. The sizes are in the name so that runs of different
 * sizes on one day are all kept.
 */
export async function writeReportsResults (out: string, started: Date, command: string, settings: { saltBuckets: number, heapMb: number }, results: SizeResult[]): Promise<string> {
  mkdirSync(out, { recursive: true })
  const sizes = results.map(r => r.events % 1_000_000 === 0 ? `${r.events / 1_000_000}m` : `${r.events / 1000}k`).join('-')
  const base = join(out, `${started.toISOString().slice(0, 10)}-${hostname()}-reports-${sizes}`)
  const commit = await new Promise<string>(resolve => execFile('git', ['rev-parse', 'HEAD'], { cwd: ROOT }, (_e, o) => resolve(o.trim())))
  writeFileSync(`${base}.json`, JSON.stringify({ started: started.toISOString(), command, commit, machine: machine(), ...settings, sparkMaster: defaults().reports.master, rowCounterMapSlots: cpus().length, results }, null, 2) + '\n')
  writeFileSync(`${base}.md`, `# Reports against RowCounter, ${started.toISOString().slice(0, 10)} on ${hostname()}\n\nCommand: \`${command}\` at ${commit}\n\n${reportsMarkdown(results)}`)
  return base
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '1000000,4000000' },
      'hbase-port': { type: 'string' },
      'zk-port': { type: 'string' },
      'salt-buckets': { type: 'string', default: String(defaults().hbase.saltBuckets) },
      'heap-mb': { type: 'string', default: '2048' },
      'quiet-wait': { type: 'string', default: '60' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') }
    }
  })
  const sizes = (values.sizes as string).split(',').map(Number)
  if (sizes.some(s => !Number.isSafeInteger(s) || s < 1)) throw new RangeError('--sizes must be positive integers separated by commas')
  const saltBuckets = Number(values['salt-buckets'])
  if (!Number.isInteger(saltBuckets) || saltBuckets < 1 || saltBuckets > 256) throw new RangeError('--salt-buckets must be an integer from 1 to 256')
  const heapMb = Number(values['heap-mb'])
  if (!Number.isInteger(heapMb) || heapMb < 256) throw new RangeError('--heap-mb must be an integer of at least 256')
  quietWaitMs = 1000 * Number(values['quiet-wait'])
  if (!Number.isFinite(quietWaitMs) || quietWaitMs < 0) throw new RangeError('--quiet-wait must be a number of seconds')
  const own = values['hbase-port'] === undefined
  const thriftPort = own ? HBASE.thriftPort : Number(values['hbase-port'])
  const zkPort = own ? HBASE.zkPort : Number(values['zk-port'])
  if (!Number.isInteger(thriftPort) || !Number.isInteger(zkPort)) throw new RangeError('--hbase-port needs --zk-port, both ports')
  const hbase = own ? new LocalHBase({ dir: join(ROOT, '.spoor', 'bench-reports-hbase'), ...HBASE }) : undefined
  const dataDir = mkdtempSync(join(tmpdir(), 'spoor-bench-reports-'))
  const started = new Date()
  try {
    if (hbase !== undefined) {
      note('starting the bench HBase…')
      await hbase.start()
    }
    const results = await reportsBench({ thriftPort, zkPort, sizes, saltBuckets, heapMb, dataDir })
    const base = await writeReportsResults(values.out as string, started, shellLine(['node', 'dist/bench/reports.js', ...process.argv.slice(2)]), { saltBuckets, heapMb }, results)
    note(`results: ${base}.json, ${base}.md`)
    process.stdout.write(reportsMarkdown(results))
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
    if (hbase !== undefined) await hbase.stop()
  }
}

if (require.main === module) {
  main().catch(err => {
    console.error(err)
    process.exit(1)
  })
}
