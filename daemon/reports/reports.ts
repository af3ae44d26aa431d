// Batch reports: runs a report's Spark job (jobs/) as a child JVM over a time window, and reads finished reports back from the reports table.

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config'
import { SpoorError } from '../errors'
import type { HBaseClient } from '../hbase/client'
import { REPORT_FAMILY } from '../hbase/schema'
import { repoDir } from '../repo-dir'
import type { Report } from './report-types'

/** What `spark-submit` adds on JDK 17: Spark's own code reaches into these JDK internals. */
export const SPARK_JDK17_FLAGS = [
  '-XX:+IgnoreUnrecognizedVMOptions',
  ...['java.lang', 'java.lang.invoke', 'java.lang.reflect', 'java.io', 'java.net', 'java.nio', 'java.util', 'java.util.concurrent',
    'java.util.concurrent.atomic', 'jdk.internal.ref', 'sun.nio.ch', 'sun.nio.cs', 'sun.security.action', 'sun.util.calendar']
    .map(p => `--add-opens=java.base/${p}=ALL-UNNAMED`),
  '-Djdk.reflect.useDirectMethodHandle=false'
]

export type { ChannelCounts, ChannelReport, PlatformsReport, Ranked, Report, TrafficReport } from './report-types'

/** A report's parameters besides its window, as the CLI takes them; each report uses the ones it names. */
export interface ReportParams {
  /** traffic: rows per ranked section. */
  top: number
  /** traffic: the one platform (p) to count; undefined means every event, with a platform or not. */
  platform?: string
  withBots: boolean
  /** platforms: the platforms to report on; empty means every platform seen in the window. */
  platforms: string[]
  /** channel: the one channel to report on; undefined means every channel. */
  channel?: string
}

interface ReportDef {
  /** The job's class in jobs/. */
  readonly className: string
  /** The cells of a finished row; a row without all of them is not a report. */
  readonly sections: readonly string[]
  /** The parameters that tell stored reports of one window apart, as they appear in the row key. */
  readonly key: (p: ReportParams) => string
  /** The job's arguments for the parameters. */
  readonly args: (p: ReportParams) => string[]
}

const bots = (p: ReportParams): string => `bots=${p.withBots ? 1 : 0}`
const botsArg = (p: ReportParams): string[] => p.withBots ? ['--with-bots'] : []
/** A parameter's value in a row key: `|` and `,` separate the key's parts, so they are escaped with the rest. */
const keyValue = (v: string): string => encodeURIComponent(v)
const sortedPlatforms = (p: ReportParams): string[] => [...new Set(p.platforms)].sort()

export const REPORTS: Readonly<Record<string, ReportDef>> = {
  traffic: {
    className: 'dev.spoor.jobs.Traffic',
    sections: ['meta', 'totals', 'series', 'pages', 'referrers', 'countries', 'browsers', 'oses', 'devices'],
    key: p => `top=${p.top},${p.platform === undefined ? '' : `platform=${keyValue(p.platform)},`}${bots(p)}`,
    args: p => ['--top', String(p.top), ...(p.platform === undefined ? [] : ['--platform', p.platform]), ...botsArg(p)]
  },
  platforms: {
    className: 'dev.spoor.jobs.Platforms',
    sections: ['meta', 'platforms', 'pairs', 'all'],
    key: p => `platforms=${p.platforms.length === 0 ? '*' : sortedPlatforms(p).map(keyValue).join('+')},${bots(p)}`,
    args: p => [...(p.platforms.length === 0 ? [] : ['--platforms', sortedPlatforms(p).join(',')]), ...botsArg(p)]
  },
  channel: {
    className: 'dev.spoor.jobs.Channel',
    sections: ['meta', 'channels', 'countries', 'items'],
    key: p => `channel=${p.channel === undefined ? '*' : keyValue(p.channel)},${bots(p)}`,
    args: p => [...(p.channel === undefined ? [] : ['--channel', p.channel]), ...botsArg(p)]
  }
}

export const DEFAULT_PARAMS: ReportParams = { top: 10, withBots: false, platforms: [] }

/** The report's definition; an unknown name is SPOOR_E_REPORT_UNKNOWN. */
export function reportDef (name: string): ReportDef {
  const def = Object.hasOwn(REPORTS, name) ? REPORTS[name] : undefined
  if (def === undefined) throw new SpoorError('REPORT_UNKNOWN', `"${name}"; the reports are: ${Object.keys(REPORTS).join(', ')}`)
  return def
}

/** Checks a window [from, to) in ms since the epoch. */
export function checkWindow (from: number, to: number): void {
  if (!Number.isSafeInteger(from) || from < 0 || !Number.isSafeInteger(to)) throw new SpoorError('REPORT_WINDOW', `from ${from} and to ${to} must be times`)
  if (from >= to) throw new SpoorError('REPORT_WINDOW', `--from ${new Date(from).toISOString()} is not before --to ${new Date(to).toISOString()}`)
}

/**
 * The row key of a report: readable in an HBase shell `scan`, sorted by report and then by window start.
 * Examples: `traffic|2026-11-29T00:00:00.000Z|2026-11-30T00:00:00.000Z|top=10,bots=0`, `traffic|…|…|top=10,platform=web,bots=0`,
 * `platforms|…|…|platforms=android+web,bots=0`, `channel|…|…|channel=*,bots=0`.
 */
export function reportRowKey (name: string, from: number, to: number, params: ReportParams): string {
  return `${name}|${new Date(from).toISOString()}|${new Date(to).toISOString()}|${reportDef(name).key(params)}`
}

/** The stored report, or undefined when there is none (or only an incomplete row, which a job never writes). */
export async function readReport (client: HBaseClient, table: string, name: string, from: number, to: number, params: ReportParams): Promise<Report | undefined> {
  const def = reportDef(name)
  const result = await client.get(table, Buffer.from(reportRowKey(name, from, to, params)))
  const cells: Record<string, unknown> = {}
  for (const cell of result.columnValues ?? []) {
    if (cell.family.toString() === REPORT_FAMILY) cells[cell.qualifier.toString()] = JSON.parse(cell.value.toString('utf8'))
  }
  return def.sections.every(s => s in cells) ? cells as unknown as Report : undefined
}

export async function checkReportsTable (client: HBaseClient, table: string): Promise<void> {
  if (!await client.tableExists(table)) throw new SpoorError('REPORTS_TABLE_MISSING', `${table}; create it with \`spoor hbase init\``)
}

const DAY_MS = 86400000

/**
 * The UTC day named by `text` as a window [from, to): `yesterday`, `today` (both relative to `now`, ms since the
 * epoch) or a date written YYYY-MM-DD. A timer runs `--day yesterday` after midnight UTC, whatever the host's zone.
 */
export function dayWindow (text: string, now: number): { from: number, to: number } {
  let from: number
  if (text === 'today' || text === 'yesterday') {
    from = Math.floor(now / DAY_MS) * DAY_MS - (text === 'yesterday' ? DAY_MS : 0)
  } else {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
    from = m == null ? NaN : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
    if (Number.isNaN(from) || new Date(from).toISOString().slice(0, 10) !== text) {
      throw new SpoorError('USAGE', `--day must be yesterday, today or a date written YYYY-MM-DD, not "${text}"`)
    }
  }
  return { from, to: from + DAY_MS }
}

/** Whether a Spark master URL runs the job inside the driver's own JVM, with no cluster. */
export function isLocalMaster (master: string): boolean {
  return master === 'local' || master.startsWith('local[')
}

/** The jobs jar and its dependencies, as `npm run build:jobs` leaves them in jobs/target. */
export function jobsClasspath (): string {
  const target = join(repoDir('jobs'), 'target')
  const jar = join(target, 'spoor-jobs.jar')
  const deps = join(target, 'classpath.txt')
  if (!existsSync(jar) || !existsSync(deps)) throw new SpoorError('JOBS_MISSING', `no ${jar} or ${deps}; run \`npm run build:jobs\` (Maven and JDK 17)`)
  return `${jar}:${readFileSync(deps, 'utf8').trim()}`
}

/** The application jar (the jobs, the HBase client and hbase-mapreduce, no Spark) that a cluster's executors load. */
export function jobsAppJar (): string {
  const jar = join(repoDir('jobs'), 'target', 'spoor-jobs-app.jar')
  if (!existsSync(jar)) throw new SpoorError('JOBS_MISSING', `no ${jar}; run \`npm run build:jobs\` (Maven and JDK 17)`)
  return jar
}

/**
 * Checks that the CLI can submit to `master`: local[N] and spark:// it runs itself; any other master (yarn, k8s://)
 * goes through a Spark installation's spark-submit. SPOOR_E_USAGE otherwise.
 */
export function checkMaster (master: string, sparkSubmit: string): void {
  if (!/^\S+$/.test(master)) throw new SpoorError('USAGE', `--master must be a Spark master URL, not "${master}"`)
  if (isLocalMaster(master) || master.startsWith('spark://') || sparkSubmit !== '') return
  throw new SpoorError('USAGE', `--master ${master} needs reports.spark_submit, the bin/spark-submit of a Spark 3.5 installation set up for that cluster (docs/reports.md)`)
}

/** The job's own arguments, after its class (or, with spark-submit, after the application jar). */
export function jobArguments (config: Config, o: Pick<RunOptions, 'name' | 'from' | 'to' | 'params'>): string[] {
  const h = config.hbase
  return [
    '--from', String(o.from), '--to', String(o.to), ...reportDef(o.name).args(o.params),
    '--zk', h.zookeeperQuorum, '--time-table', h.timeTable, '--identity-table', h.identityTable, '--buckets', String(h.saltBuckets),
    '--reports-table', h.reportsTable, '--row', reportRowKey(o.name, o.from, o.to, o.params),
    '--identity-ids-max', String(config.reports.identityIdsMax)
  ]
}

export interface RunOptions {
  name: string
  from: number
  to: number
  params: ReportParams
  /** The Spark master URL: local[N], spark://HOST:PORT or yarn. */
  master: string
  /** The JVM's output goes here, kept after the run. */
  logFile: string
}

/** Lines quoted from the log when a job dies without its own one-line reason. */
const LOG_TAIL_LINES = 5

/**
 * Runs the report's job in a child JVM; it writes the report's row itself, in one Put, only once every section is
 * computed. Resolves when the JVM exits 0; otherwise SPOOR_E_REPORT_FAILED with the job's own one-line reason.
 */
export async function runJob (config: Config, o: RunOptions): Promise<void> {
  await runSparkJob(config, { className: reportDef(o.name).className, name: o.name, args: jobArguments(config, o), master: o.master, logFile: o.logFile, failure: 'REPORT_FAILED' })
}

/** A job of jobs/ to run: its class, its name in Spark, its arguments, where, and the error code of its failure. */
export interface SparkJob {
  className: string
  name: string
  args: string[]
  /** The Spark master URL: local[N], spark://HOST:PORT or yarn. */
  master: string
  /** The JVM's output goes here, kept after the run. */
  logFile: string
  failure: 'REPORT_FAILED' | 'TRAIN_FAILED'
}

/**
 * Runs a job of jobs/ in a child JVM (or through reports.spark_submit for a cluster it cannot reach itself), as every
 * report and the training run. Resolves when the JVM exits 0; otherwise the job's failure code with its own one-line
 * reason (`spoor-job: …`), or the log's last lines.
 */
export async function runSparkJob (config: Config, o: SparkJob): Promise<void> {
  checkMaster(o.master, config.reports.sparkSubmit)
  const local = isLocalMaster(o.master)
  let command: string
  let args: string[]
  if (!local && config.reports.sparkSubmit !== '') {
    // The installation's spark-submit adds its own JDK flags and conf; the job takes its master from it.
    command = config.reports.sparkSubmit
    args = ['--master', o.master, '--class', o.className, '--name', `spoor ${o.name}`, '--driver-memory', `${config.reports.heapMb}m`,
      '--conf', 'spark.ui.enabled=false', jobsAppJar(), ...o.args]
  } else {
    // On a cluster this JVM is the driver (client mode); the executors get the job's classes and the HBase client from
    // the application jar, which Spark serves them. spark.* system properties are read into the job's SparkConf.
    command = process.env.JAVA_HOME != null && process.env.JAVA_HOME !== '' ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java'
    args = [`-Xmx${config.reports.heapMb}m`, ...SPARK_JDK17_FLAGS, ...(local ? [] : [`-Dspark.jars=${jobsAppJar()}`]), '-cp', jobsClasspath(),
      o.className, ...o.args, '--master', o.master]
  }
  mkdirSync(join(o.logFile, '..'), { recursive: true })
  const log = openSync(o.logFile, 'w')
  let code: number | null
  let signal: NodeJS.Signals | null
  try {
    // SPARK_LOCAL_IP: a local job needs no other address, and Spark warns when the host name resolves to loopback. A
    // driver on a cluster must be reachable by the executors, so there Spark picks the address (or SPARK_LOCAL_IP does).
    const env = local ? { SPARK_LOCAL_IP: '127.0.0.1', ...process.env } : process.env
    const child = spawn(command, args, { stdio: ['ignore', log, log], env })
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    const failed = once(child, 'error').then(([err]) => { throw new SpoorError(o.failure, `cannot start ${command}: ${(err as Error).message}`) })
    ;[code, signal] = await Promise.race([exited, failed])
  } finally {
    closeSync(log)
  }
  if (code === 0) return
  const lines = readFileSync(o.logFile, 'utf8').trim().split('\n')
  const reason = lines.filter(l => l.startsWith('spoor-job: ')).pop()?.slice('spoor-job: '.length) ??
    (signal != null ? `the JVM was killed by ${signal}` : `the JVM exited with ${String(code)}: ${lines.slice(-LOG_TAIL_LINES).join(' / ')}`)
  throw new SpoorError(o.failure, `${reason} (log: ${o.logFile})`)
}
