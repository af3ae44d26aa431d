// The seed's own pipeline as a contender: nginx empty_gif → buffered access log → Flume (TAILDIR source, file
// channel, HBase 2 sink) → HBase, against spoor, at the same offered load into the same HBase.
//
// Usage: node dist/bench/flume.js --hbase-port P --zk-port Z [--rate N] [--seconds S] [--kill-seconds S] [--no-kills]
//                                 [--taildir-backoff-ms MS] [--salt-buckets N] [--quiet-wait S] [--quick] [--out DIR]
//   default   2000 requests/s for 20 s, kill runs of 20 s, Flume's own TAILDIR back-off (up to 5000 ms), 16 salt
//             buckets, up to 15 s of waiting for a quiet machine before each run; --quick: steady runs of 3 s, kill
//             runs of 4 s, no quiet wait. Results in
//             bench/results/<date>-<host>-flume.{json,md} (--quick: bench/results/tmp/).
// Needs a build, a running local HBase (Thrift2 gateway on P, ZooKeeper on Z), nginx, JDK 17 and Maven: the Flume
// agent's jars come from Maven Central through bench/java/flume/pom.xml, resolved once per version of that pom.
//
// Layout as the rest of the bench: the servers (nginx with the Flume JVM, or spoor) on core 0, autocannon (and the
// HBase the caller pinned there) on core 1. For each pipeline, one steady run and kill runs:
// - steady: autocannon sends RATE pixels/s for S seconds, each with an id of its own in `it` (autocannon -I), while
//   lag probes (bench/lag.ts) go one after another beside it. Then the run waits until the pipeline's own delivered
//   counter (Flume's sink EventDrainSuccessCount; spoor's eventsDelivered) covers every request answered, and reads
//   the table back: delivered/s is the distinct events stored over the time from the first probe to that moment, and
//   CPU per delivered event is the utime + stime of every process of the pipeline (nginx's master and worker and the
//   Flume JVM; spoor's one process) over the same time, over the distinct events stored.
// - kill: the same load; halfway through, SIGKILL to one collector, which is then started again on the same files
//   and port. After the load, nginx is stopped (it writes its buffer) and the run waits until the pipeline has
//   delivered what it still holds; then requests answered 2xx are compared with distinct events stored (lost) and
//   with rows stored (duplicated). For the seed twice: nginx (master and worker), and the Flume agent; for spoor,
//   `spoor serve`.

import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { defaults } from '../daemon/config'
import { freePort } from '../daemon/pipeline/collector'
import { HBaseClient } from '../daemon/hbase/client'
import { ensureSchema, FAMILY } from '../daemon/hbase/schema'
import { JDK17_FLAGS, mavenClasspath } from '../daemon/dev/jvm'
import type { TColumnValue } from '../daemon/hbase/thrift-gen/hbase_types'
import { measureProbeLag, spoorProbeTarget, type LagResult, type ProbeTarget } from './lag'
import { PIXEL, ROOT, runAutocannon, shellLine, type LoadResult, type Workload } from './load'
import { CLK_TCK, machine, waitQuiet, type Quiet } from './proc'
import { nginxConfig, processTree, running, spoorConfig, startNginx, startPinned, startSpoor, type HBaseTarget, type Running, type RunningSpoor } from './servers'

/** The one-core layout of bench/run.ts: the pipeline's processes on core 0; the load generator (and HBase) on core 1. */
export const SERVER_CPUS = '0'
export const LOAD_CPUS = '1'
/**
 * The default offered load. Both pipelines keep up with it here: spoor's flush writes 8–10k events/s to this HBase
 * (two rows each) and Flume's one sink about as many single rows, and HBase shares core 1 with autocannon. At a rate
 * near either one's limit, lag would measure the backlog rather than the pipeline; bench/run.ts's lag section uses
 * the same rate.
 */
export const DEFAULT_RATE = 2000
/** Past POLL_MS, a probe's row is looked for again after 5% of the time waited: a Flume probe waiting seconds is scanned for tens of times, not hundreds. */
const POLL_SHARE = 0.05
/** The pixel with an id of its own per request in `it`, which both pipelines store: autocannon -I fills `[<id>]`. */
export const ID_PIXEL: Workload = { ...PIXEL, name: 'pixel-ids', path: PIXEL.path.replace(/([?&]it=)[^&]*/, '$1[<id>]') }
/** The Flume table's one family, and the log fields its regex serializer makes columns of. */
const FLUME_FAMILY = 'e'
const FLUME_COLUMNS = ['t', 'ip', 'q', 'ua', 'ref', 'uid']
/** nginx's `log_format pixel` (bench/servers.ts), one group per field; a line it does not match is dropped by the serializer. */
const LOG_REGEX = '^(\\S+) (\\S+) "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)"$'
/** The Flume JVM's heap: what flume-env.sh templates suggest for an agent with a file channel, well above its use here. */
const FLUME_HEAP_MB = 512
/**
 * How often a pipeline's delivered counter is read while waiting for the last event: each read costs the pipeline a
 * little CPU (an HTTP request), and 50 ms is under 0.3% of a 20 s run.
 */
const COUNTER_POLL_MS = 50
/** How long a pipeline may take to deliver what it holds once the load has ended. */
const DRAIN_TIMEOUT_MS = 180_000

export interface FlumeOptions {
  thriftPort: number
  zkPort: number
  saltBuckets: number
  /** Seconds of each steady run. */
  seconds: number
  /** Requests per second offered to both pipelines. */
  rate: number
  /** Longest wait for a quiet machine before each run (bench/proc.ts waitQuiet). */
  quietWaitMs: number
  /** Scratch space: nginx's directory, the Flume agent's files, spoor's data directories. Left for the caller to remove. */
  dataDir: string
  /** Seconds of each kill run; the kill comes halfway. 0: no kill runs. */
  killSeconds: number
  /**
   * TAILDIR's maxBackoffSleep in ms; default Flume's 5000. The source ends each read at the end of the log, which
   * counts as an idle poll, so under steady load it sleeps 1, 2 … up to this many seconds between reads.
   */
  taildirMaxBackoffMs?: number
  /** Called with progress lines. */
  note?: (text: string) => void
}

/** A steady run of one pipeline. */
export interface SteadyResult {
  /**
   * Requests answered 2xx: the background load's and the probes'. autocannon does not count the answers still on
   * their way when it stops, at most one per connection (8), which are stored all the same.
   */
  answered: number
  /** Distinct events in the table: one per request answered, told apart by their `it`. */
  delivered: number
  /** Rows in the table; more than `delivered` when some event was stored twice. */
  rows: number
  /** From the first probe to the moment the pipeline's delivered counter covered every request answered. */
  seconds: number
  deliveredPerSecond: number
  /** utime + stime of every process of the pipeline over those seconds. */
  cpuSeconds: number
  cpuUsPerEvent: number
  /** CPU seconds of each process, by name. */
  cpuByProcess: Record<string, number>
  lag: LagResult
  /**
   * The seed only: every event's lag, from nginx's `$msec` in its log line to the timestamp the region server gave
   * its cells (the sink sets none), in ms. Exact and for every event rather than for the probes; it leaves out the
   * few ms between a put and its row being readable, which the probes include.
   */
  rowLagMs?: { events: number, p50: number, p90: number, p99: number, max: number }
  quiet: Quiet
}

/** What one kill run lost and stored twice. */
export interface KillResult {
  /** What was killed: nginx (master and worker), the Flume agent, or spoor serve. */
  killed: string
  /** Requests answered 2xx, by autocannon. */
  answered: number
  /** Requests that failed (refused connections while the collector was down, resets) or timed out. */
  failed: number
  /** For the seed: lines in nginx's access log once it stopped. */
  logged?: number
  /** Distinct events stored. */
  stored: number
  rows: number
  /** answered − stored, when positive: events answered and never stored. */
  lost: number
  /** stored − answered, when positive: events stored whose answer the client never read (in flight at the kill). */
  storedUnanswered: number
  /** rows − stored: events stored more than once. */
  duplicated: number
  /** Milliseconds from the kill until the collector listened again (nginx, spoor) or had started (Flume). */
  downMs: number
  load: LoadResult
}

export interface PipelineResult {
  steady: SteadyResult
  kills: KillResult[]
}

export interface FlumeResult {
  rate: number
  /** TAILDIR's maxBackoffSleep in ms. */
  taildirMaxBackoffMs: number
  seconds: number
  killSeconds: number
  saltBuckets: number
  serverCpus: string
  loadCpus: string
  seed: PipelineResult
  spoor: PipelineResult
  /** The seed's CPU per delivered event over spoor's: the goal is at least 3. */
  cpuRatio: number
  /** spoor's lag p99 over the seed's: the goal is at most 0.1. */
  lagP99Ratio: number
  /** The commands and configuration, with $DIR, $PORT and the like for what each run chooses. */
  commands: {
    nginx: string
    nginxConfig: string
    flume: string
    flumeConfig: string
    flumePom: string
    spoor: string
    spoorConfig: string
    load: string
  }
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits

async function withClient<T> (port: number, use: (client: HBaseClient) => Promise<T>): Promise<T> {
  return await HBaseClient.using({ host: '127.0.0.1', port, requestTimeoutMs: 120_000 }, use)
}

/** Every row's one column, read with a full scan: the ids it holds (by `idOf`), and how many rows hold one. */
async function readIds (port: number, table: string, family: string, qualifier: string, idOf: (value: string) => string | undefined): Promise<{ rows: number, ids: Set<string> }> {
  return await withClient(port, async client => {
    const ids = new Set<string>()
    let rows = 0
    const scanner = await client.openScanner(table, { columns: [{ family: Buffer.from(family), qualifier: Buffer.from(qualifier) }], caching: 2000 })
    try {
      for (;;) {
        const chunk = await client.getScannerRows(scanner, 2000)
        if (chunk.length === 0) break
        for (const r of chunk) {
          const id = idOf(r.columnValues[0]?.value.toString('utf8') ?? '')
          if (id === undefined) continue
          rows++
          ids.add(id)
        }
      }
    } finally {
      await client.closeScanner(scanner)
    }
    return { rows, ids }
  })
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p / 100) - 1)]
}

/** The seed's rows: for each measured event, its cell's timestamp less nginx's `$msec` (column t). */
async function seedRowLag (port: number, table: string): Promise<SteadyResult['rowLagMs']> {
  const lags: number[] = []
  await withClient(port, async client => {
    const columns = ['t', 'q'].map(q => ({ family: Buffer.from(FLUME_FAMILY), qualifier: Buffer.from(q) }))
    const scanner = await client.openScanner(table, { columns, caching: 2000 })
    try {
      for (;;) {
        const chunk = await client.getScannerRows(scanner, 2000)
        if (chunk.length === 0) break
        for (const r of chunk) {
          const cell = (q: string): TColumnValue | undefined => r.columnValues.find(c => c.qualifier.toString() === q)
          const t = cell('t')
          const q = cell('q')
          if (t === undefined || q === undefined || measured(itOf(q.value.toString('utf8'))) === undefined || t.timestamp === undefined) continue
          lags.push(t.timestamp.toNumber() - Math.round(Number(t.value.toString('utf8')) * 1000))
        }
      }
    } finally {
      await client.closeScanner(scanner)
    }
  })
  lags.sort((a, b) => a - b)
  return { events: lags.length, p50: percentile(lags, 50), p90: percentile(lags, 90), p99: percentile(lags, 99), max: lags[lags.length - 1] }
}

/** The `it` of a request line such as `/p.gif?uid=…&it=ID&…`. */
function itOf (requestUri: string): string | undefined {
  return /[?&]it=([^&\s"]*)/.exec(requestUri)?.[1]
}

/** Stored events of the measured runs: warm-up events are left out. */
const measured = (id: string | undefined): string | undefined => id === undefined || id.startsWith('warm-') ? undefined : id

// ---------------------------------------------------------------------------------------------------------------
// The Flume agent

/** The agent's configuration: TAILDIR on nginx's access log, a file channel, the HBase 2 sink with the regex serializer. */
export function flumeConfig (dir: string, logFile: string, table: string, zkPort: number | string, maxBackoffMs = TAILDIR_MAX_BACKOFF_MS): string {
  return `# spoor's benchmark: the seed's pipeline, nginx's access log to HBase through Flume 1.11.0. Flume's defaults
# otherwise: TAILDIR and the sink take batches of 100, the file channel holds up to 1,000,000 events.
seed.sources = log
seed.channels = file
seed.sinks = hbase
seed.sources.log.type = TAILDIR
seed.sources.log.channels = file
seed.sources.log.positionFile = ${dir}/taildir_position.json
seed.sources.log.filegroups = access
seed.sources.log.filegroups.access = ${logFile}
seed.sources.log.maxBackoffSleep = ${maxBackoffMs}
seed.channels.file.type = file
seed.channels.file.checkpointDir = ${dir}/checkpoint
seed.channels.file.dataDirs = ${dir}/data
seed.sinks.hbase.type = org.apache.flume.sink.hbase2.HBase2Sink
seed.sinks.hbase.channel = file
seed.sinks.hbase.table = ${table}
seed.sinks.hbase.columnFamily = ${FLUME_FAMILY}
seed.sinks.hbase.zookeeperQuorum = 127.0.0.1:${zkPort}
seed.sinks.hbase.serializer = org.apache.flume.sink.hbase2.RegexHBase2EventSerializer
seed.sinks.hbase.serializer.regex = ${LOG_REGEX.replace(/\\/g, '\\\\')}
seed.sinks.hbase.serializer.colNames = ${FLUME_COLUMNS.join(',')}
`
}

/** TAILDIR's own default maxBackoffSleep. */
const TAILDIR_MAX_BACKOFF_MS = 5000

const FLUME_DIR = join(ROOT, 'bench', 'java', 'flume')

/** The agent's classpath, from bench/java/flume/pom.xml through Maven (kept in .spoor/bench-flume). */
export async function flumeClasspath (): Promise<string> {
  const cacheDir = join(ROOT, '.spoor', 'bench-flume')
  mkdirSync(cacheDir, { recursive: true })
  return await mavenClasspath(join(FLUME_DIR, 'pom.xml'), cacheDir)
}

function flumeArgv (classpath: string, configFile: string, monitorPort: number | string): string[] {
  return ['java', `-Xmx${FLUME_HEAP_MB}m`, ...JDK17_FLAGS, `-Dlog4j2.configurationFile=${join(FLUME_DIR, 'log4j2.properties')}`,
    '-Dflume.monitoring.type=http', `-Dflume.monitoring.port=${monitorPort}`,
    '-cp', classpath, 'org.apache.flume.node.Application', '-n', 'seed', '-f', configFile, '--no-reload-conf']
}

type FlumeMetrics = Record<string, Record<string, string>>

interface FlumeAgent extends Running {
  metrics: () => Promise<FlumeMetrics>
  /** Events the sink has written to HBase since this agent started. */
  written: () => Promise<number>
}

/** Starts the agent pinned to `cpus`; resolves once its source, channel and sink have started. */
async function startFlume (cpus: string, classpath: string, configFile: string): Promise<FlumeAgent> {
  const monitorPort = await freePort()
  const s = startPinned(cpus, flumeArgv(classpath, configFile, monitorPort))
  const metrics = async (): Promise<FlumeMetrics> => await (await fetch(`http://127.0.0.1:${monitorPort}/metrics`)).json() as FlumeMetrics
  const deadline = Date.now() + 120_000
  for (;;) {
    const death = s.death()
    if (death !== undefined) throw new Error(death)
    const m = await metrics().catch(() => undefined)
    if (m !== undefined && ['SOURCE.log', 'CHANNEL.file', 'SINK.hbase'].every(k => m[k] !== undefined && m[k].StartTime !== '0')) break
    if (Date.now() > deadline) {
      await s.stop(2000)
      throw new Error(`the Flume agent did not start within 120 s: ${JSON.stringify(m)}`)
    }
    await sleep(100)
  }
  return { ...running(s, monitorPort), metrics, written: async () => Number((await metrics())['SINK.hbase'].EventDrainSuccessCount) }
}

// ---------------------------------------------------------------------------------------------------------------
// The two pipelines, behind one shape

interface Pipeline {
  name: 'seed' | 'spoor'
  port: number
  /** Every process, by name, with its CPU ticks. */
  processes: () => Array<{ name: string, ticks: () => number }>
  probe: ProbeTarget
  /** Events written to HBase so far, by the pipeline's own count; resets when a collector restarts. */
  delivered: () => Promise<number>
  /** Distinct measured events and rows in its table. */
  stored: () => Promise<{ rows: number, ids: Set<string> }>
  /** Every stored event's lag where the table shows it (the seed's); undefined where it does not (spoor's cells carry the event's time). */
  rowLag?: () => Promise<SteadyResult['rowLagMs']>
  /** Which collectors can be killed, and how each is killed and started again. */
  kills: Array<{ name: string, kill: () => Promise<number> }>
  /** After the load: lets it deliver all it still holds; the seed stops nginx so that it writes its buffer. */
  deliverRest: () => Promise<{ logged?: number }>
  stop: () => Promise<void>
}

async function killTree (r: Running): Promise<void> {
  const pids = processTree(r.pid)
  for (const pid of pids) process.kill(pid, 'SIGKILL')
  await r.stop(5000)
}

async function seedPipeline (o: FlumeOptions, classpath: string, stamp: string): Promise<Pipeline> {
  const table = `${stamp}_flume`
  await withClient(o.thriftPort, async c => await c.createTable(table, [{ name: Buffer.from(FLUME_FAMILY), maxVersions: 1 }]))
  const root = mkdtempSync(join(o.dataDir, 'seed-'))
  const nginxDir = join(root, 'nginx')
  const agentDir = join(root, 'flume')
  mkdirSync(nginxDir)
  mkdirSync(agentDir)
  const port = await freePort()
  const logFile = join(nginxDir, 'access.log')
  const configFile = join(agentDir, 'agent.conf')
  writeFileSync(configFile, flumeConfig(agentDir, logFile, table, o.zkPort, o.taildirMaxBackoffMs))
  let nginx = await startNginx(SERVER_CPUS, 1, { dir: nginxDir, port })
  let agent = await startFlume(SERVER_CPUS, classpath, configFile)
  const client = await HBaseClient.connect({ host: '127.0.0.1', port: o.thriftPort, requestTimeoutMs: 120_000 })
  // The counters of processes that were killed and started again, so that a run's CPU covers them all.
  const earlierTicks = { nginx: 0, flume: 0 }
  let earlierWritten = 0
  const probe: ProbeTarget = {
    port,
    // The sink's row keys start with the time it wrote them, in ms: the probe's row is at or after its sending.
    landed: async (uid, sentMs) => (await client.getScannerResults(table, {
      startRow: Buffer.from(String(sentMs - 1)),
      columns: [{ family: Buffer.from(FLUME_FAMILY), qualifier: Buffer.from('q') }],
      filterString: Buffer.from(`SingleColumnValueFilter('${FLUME_FAMILY}', 'q', =, 'substring:uid=${uid}&', true, true)`)
    }, 1)).length > 0
  }
  return {
    name: 'seed',
    port,
    processes: () => [
      { name: 'nginx', ticks: () => earlierTicks.nginx + nginx.cpuTicks() },
      { name: 'flume', ticks: () => earlierTicks.flume + agent.cpuTicks() }
    ],
    probe,
    delivered: async () => earlierWritten + await agent.written(),
    stored: async () => await readIds(o.thriftPort, table, FLUME_FAMILY, 'q', q => measured(itOf(q))),
    rowLag: async () => await seedRowLag(o.thriftPort, table),
    kills: [
      {
        name: 'nginx',
        kill: async () => {
          earlierTicks.nginx += nginx.cpuTicks()
          const killed = Date.now()
          await killTree(nginx)
          nginx = await startNginx(SERVER_CPUS, 1, { dir: nginxDir, port })
          return Date.now() - killed
        }
      },
      {
        name: 'flume',
        kill: async () => {
          earlierTicks.flume += agent.cpuTicks()
          earlierWritten += await agent.written()
          const killed = Date.now()
          await killTree(agent)
          agent = await startFlume(SERVER_CPUS, classpath, configFile)
          return Date.now() - killed
        }
      }
    ],
    deliverRest: async () => {
      // SIGTERM: nginx's workers write their log buffers as they exit. Then the agent has every line it will get.
      earlierTicks.nginx += nginx.cpuTicks()
      await nginx.stop()
      const lines = readFileSync(logFile, 'utf8').split('\n').filter(l => l !== '')
      const ids = new Set(lines.map(l => measured(itOf(l))).filter((id): id is string => id !== undefined))
      const deadline = Date.now() + DRAIN_TIMEOUT_MS
      for (;;) {
        const { ids: stored } = await readIds(o.thriftPort, table, FLUME_FAMILY, 'q', q => measured(itOf(q)))
        let missing = 0
        for (const id of ids) if (!stored.has(id)) missing++
        if (missing === 0) break
        if (Date.now() > deadline) throw new Error(`Flume did not deliver ${missing} of the ${ids.size} events in nginx's log within ${DRAIN_TIMEOUT_MS / 1000} s`)
        await sleep(500)
      }
      nginx = await startNginx(SERVER_CPUS, 1, { dir: nginxDir, port })
      return { logged: ids.size }
    },
    stop: async () => {
      await nginx.stop()
      await agent.stop()
      await client.close()
    }
  }
}

async function spoorPipeline (o: FlumeOptions, stamp: string): Promise<Pipeline> {
  const target: HBaseTarget = { port: o.thriftPort, userTable: `${stamp}_user`, timeTable: `${stamp}_time`, saltBuckets: o.saltBuckets }
  await withClient(o.thriftPort, async c => await ensureSchema(c, target))
  const dataDir = mkdtempSync(join(o.dataDir, 'spoor-'))
  const port = await freePort()
  let spoor: RunningSpoor = await startSpoor(SERVER_CPUS, target, { threads: 1, flush: true, port, dataDir })
  const client = await HBaseClient.connect({ host: '127.0.0.1', port: o.thriftPort, requestTimeoutMs: 120_000 })
  let earlierTicks = 0
  let earlierDelivered = 0
  const probe: ProbeTarget = { port, landed: async (uid, sentMs) => await spoorProbeTarget(spoor, client, target).landed(uid, sentMs) }
  return {
    name: 'spoor',
    port,
    processes: () => [{ name: 'spoor', ticks: () => earlierTicks + spoor.cpuTicks() }],
    probe,
    delivered: async () => earlierDelivered + (await spoor.health()).metrics.eventsDelivered,
    stored: async () => await readIds(o.thriftPort, target.timeTable, FAMILY, 'it', it => measured(it)),
    kills: [{
      name: 'spoor',
      kill: async () => {
        earlierTicks += spoor.cpuTicks()
        earlierDelivered += (await spoor.health()).metrics.eventsDelivered
        const killed = Date.now()
        await killTree(spoor)
        spoor = await startSpoor(SERVER_CPUS, target, { threads: 1, flush: true, port, dataDir })
        return Date.now() - killed
      }
    }],
    deliverRest: async () => {
      await spoor.flushed(DRAIN_TIMEOUT_MS)
      return {}
    },
    stop: async () => {
      await spoor.stop()
      await client.close()
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The runs

/** A few requests, each waited for until stored, so that JITs, connections and the HBase regions are warm. */
async function warmUp (p: Pipeline): Promise<void> {
  const before = await p.delivered()
  const n = 200
  for (let i = 0; i < n; i++) {
    const res = await fetch(`http://127.0.0.1:${p.port}/p.gif?uid=5f0c6a1e9b2d4c7f8a3e1b0d9c6f2a47&a=page&it=warm-${i}`)
    await res.arrayBuffer()
  }
  const deadline = Date.now() + DRAIN_TIMEOUT_MS
  while (await p.delivered() < before + n) {
    if (Date.now() > deadline) throw new Error(`${p.name} did not deliver its ${n} warm-up events within ${DRAIN_TIMEOUT_MS / 1000} s`)
    await sleep(COUNTER_POLL_MS)
  }
}

async function steadyRun (o: FlumeOptions, p: Pipeline): Promise<SteadyResult> {
  await warmUp(p)
  const quiet = await waitQuiet(o.quietWaitMs)
  const deliveredBefore = await p.delivered()
  const ticksBefore = p.processes().map(x => x.ticks())
  let started = 0
  const lag = await measureProbeLag(p.probe, o.seconds, o.rate, LOAD_CPUS, {
    workload: ID_PIXEL,
    uniqueIds: true,
    pollShare: POLL_SHARE,
    onStart: () => { started = performance.now() }
  })
  if (lag.background.errors > 0) throw new Error(`${p.name}: ${lag.background.errors} of the paced requests failed`)
  const answered = (lag.background.answered2xx ?? lag.background.requests) + lag.probes
  // The nginx log's buffer (flush=1s) and TAILDIR's back-off while the log is idle are part of the seed's delivery.
  const deadline = Date.now() + DRAIN_TIMEOUT_MS
  while (await p.delivered() - deliveredBefore < answered) {
    if (Date.now() > deadline) throw new Error(`${p.name} delivered ${await p.delivered() - deliveredBefore} of ${answered} events within ${DRAIN_TIMEOUT_MS / 1000} s of the load's end`)
    await sleep(COUNTER_POLL_MS)
  }
  const seconds = (performance.now() - started) / 1000
  const ticks = p.processes().map((x, i) => ({ name: x.name, ticks: x.ticks() - ticksBefore[i] }))
  const { rows, ids } = await p.stored()
  const rowLagMs = await p.rowLag?.()
  const delivered = ids.size
  const cpuSeconds = ticks.reduce((n, x) => n + x.ticks, 0) / CLK_TCK
  return {
    answered,
    delivered,
    rows,
    seconds: round(seconds, 2),
    deliveredPerSecond: Math.round(delivered / seconds),
    cpuSeconds: round(cpuSeconds, 2),
    cpuUsPerEvent: round(cpuSeconds * 1e6 / delivered),
    cpuByProcess: Object.fromEntries(ticks.map(x => [x.name, round(x.ticks / CLK_TCK, 2)])),
    lag,
    ...(rowLagMs === undefined ? {} : { rowLagMs }),
    quiet
  }
}

async function killRun (o: FlumeOptions, p: Pipeline, which: Pipeline['kills'][number], idsBefore: Set<string>, rowsBefore: number): Promise<KillResult> {
  await waitQuiet(o.quietWaitMs)
  const load = runAutocannon(p.port, ID_PIXEL, o.killSeconds, LOAD_CPUS, undefined, { rate: o.rate, connections: 8, uniqueIds: true })
  await sleep(o.killSeconds * 500)
  const downMs = await which.kill()
  const l = await load
  const { logged } = await p.deliverRest()
  const { rows, ids } = await p.stored()
  let stored = 0
  for (const id of ids) if (!idsBefore.has(id)) stored++
  const newRows = rows - rowsBefore
  const answered = l.answered2xx ?? l.requests - l.errors
  return {
    killed: which.name,
    answered,
    failed: l.errors,
    ...(logged === undefined ? {} : { logged: logged - idsBefore.size }),
    stored,
    rows: newRows,
    lost: Math.max(0, answered - stored),
    storedUnanswered: Math.max(0, stored - answered),
    duplicated: newRows - stored,
    downMs,
    load: l
  }
}

async function benchPipeline (o: FlumeOptions, p: Pipeline): Promise<PipelineResult> {
  const note = o.note ?? (() => {})
  note(`${p.name}: steady run, ${o.rate} requests/s for ${o.seconds} s with lag probes…`)
  const steady = await steadyRun(o, p)
  note(`${p.name}: ${steady.delivered} of ${steady.answered} delivered, ${steady.deliveredPerSecond}/s, ${steady.cpuUsPerEvent} µs CPU per event, lag p50 ${steady.lag.lagMs.p50} ms p99 ${steady.lag.lagMs.p99} ms (${steady.lag.probes} probes)`)
  const kills: KillResult[] = []
  if (o.killSeconds > 0) {
    for (const which of p.kills) {
      const { rows, ids } = await p.stored()
      note(`${p.name}: kill run, SIGKILL to ${which.name} halfway through ${o.killSeconds} s…`)
      const k = await killRun(o, p, which, ids, rows)
      note(`${p.name} (${which.name} killed): ${k.answered} answered, ${k.stored} stored, ${k.lost} lost, ${k.duplicated} duplicated`)
      kills.push(k)
    }
  }
  return { steady, kills }
}

export async function flumeBench (o: FlumeOptions): Promise<FlumeResult> {
  const classpath = await flumeClasspath()
  const stamp = `bench_${Date.now()}`
  const seedPipe = await seedPipeline(o, classpath, `${stamp}_seed`)
  let seed: PipelineResult
  try {
    seed = await benchPipeline(o, seedPipe)
  } finally {
    await seedPipe.stop()
  }
  const spoorPipe = await spoorPipeline(o, `${stamp}_spoor`)
  let spoor: PipelineResult
  try {
    spoor = await benchPipeline(o, spoorPipe)
  } finally {
    await spoorPipe.stop()
  }
  const spoorTarget: HBaseTarget = { port: o.thriftPort, userTable: '$USER_TABLE', timeTable: '$TIME_TABLE', saltBuckets: o.saltBuckets }
  return {
    rate: o.rate,
    taildirMaxBackoffMs: o.taildirMaxBackoffMs ?? TAILDIR_MAX_BACKOFF_MS,
    seconds: o.seconds,
    killSeconds: o.killSeconds,
    saltBuckets: o.saltBuckets,
    serverCpus: SERVER_CPUS,
    loadCpus: LOAD_CPUS,
    seed,
    spoor,
    cpuRatio: round(seed.steady.cpuUsPerEvent / spoor.steady.cpuUsPerEvent, 2),
    lagP99Ratio: round(spoor.steady.lag.lagMs.p99 / seed.steady.lag.lagMs.p99, 3),
    commands: {
      nginx: shellLine(['taskset', '-c', SERVER_CPUS, 'nginx', '-e', '$DIR/error.log', '-p', '$DIR', '-c', '$DIR/nginx.conf']),
      nginxConfig: nginxConfig('$DIR', '$PORT', 1),
      flume: shellLine(['taskset', '-c', SERVER_CPUS, ...flumeArgv('$(cat .spoor/bench-flume/classpath-*.txt)', '$FLUME_DIR/agent.conf', '$MONITOR_PORT')]),
      flumeConfig: flumeConfig('$FLUME_DIR', '$DIR/access.log', '$TABLE', o.zkPort, o.taildirMaxBackoffMs),
      flumePom: 'bench/java/flume/pom.xml (mvn dependency:build-classpath)',
      spoor: shellLine(['taskset', '-c', SERVER_CPUS, 'node', 'dist/daemon/cli.js', 'serve', '--config', '$DATA_DIR/spoor.toml']),
      spoorConfig: spoorConfig('$DATA_DIR', spoorTarget, { threads: 1, flush: true }),
      load: seed.steady.lag.background.command
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The page

const met = (ok: boolean): string => ok ? 'met' : '**missed**'

/** The Markdown section: one table for both pipelines, the two ratios against the goal, and the kill runs. */
export function flumeMarkdown (r: FlumeResult): string {
  const row = (name: string, p: PipelineResult): string => {
    const s = p.steady
    const kills = p.kills.map(k => `${k.killed}: ${k.lost} lost, ${k.duplicated} duplicated`).join('; ')
    const noisy = s.quiet.gaveUp ? ` (NOISY: the machine was ${s.quiet.busyPct}% busy at the start)` : ''
    return `| ${name}${noisy} | ${s.deliveredPerSecond.toLocaleString('en')} (${s.delivered.toLocaleString('en')} of ${s.answered.toLocaleString('en')}) | ${s.cpuUsPerEvent} | ` +
      `${Object.entries(s.cpuByProcess).map(([n, c]) => `${n} ${c} s`).join(', ')} | ${s.lag.lagMs.p50} / ${s.lag.lagMs.p99} (${s.lag.probes}) | ${kills === '' ? 'not run' : kills} |`
  }
  const lines = [
    `At ${r.rate.toLocaleString('en')} pixels/s for ${r.seconds} s (autocannon paced, 8 connections, on core ${r.loadCpus}; the pipeline on core ${r.serverCpus}; ` +
      `Flume's TAILDIR back-off up to ${r.taildirMaxBackoffMs} ms${r.taildirMaxBackoffMs === TAILDIR_MAX_BACKOFF_MS ? ', its default' : ''}):`,
    '',
    '| pipeline | delivered/s (events) | CPU µs per delivered event | CPU by process | lag p50 / p99 ms (probes) | SIGKILL mid-load |',
    '| --- | --- | --- | --- | --- | --- |',
    row('seed: nginx + Flume', r.seed),
    row('spoor', r.spoor),
    ...(r.seed.steady.rowLagMs === undefined ? [] : ['', `The seed's lag over all ${r.seed.steady.rowLagMs.events.toLocaleString('en')} events, from nginx's \`$msec\` to the region server's cell timestamp: p50 ${r.seed.steady.rowLagMs.p50} ms, p90 ${r.seed.steady.rowLagMs.p90} ms, p99 ${r.seed.steady.rowLagMs.p99} ms, max ${r.seed.steady.rowLagMs.max} ms. spoor's cells carry the event's own time, so only its probes measure it.`]),
    '',
    '| goal | measured | |',
    '| --- | --- | --- |',
    `| spoor ≥ 3× less CPU per delivered event | ${r.cpuRatio}× | ${met(r.cpuRatio >= 3)} |`,
    `| spoor's lag p99 ≤ a tenth of Flume's | ${r.lagP99Ratio}× (${r.spoor.steady.lag.lagMs.p99} against ${r.seed.steady.lag.lagMs.p99} ms) | ${met(r.lagP99Ratio <= 0.1)} |`
  ]
  const kills = [...r.seed.kills.map(k => ['seed', k] as const), ...r.spoor.kills.map(k => ['spoor', k] as const)]
  if (kills.length > 0) {
    lines.push('', `Kill runs: ${r.killSeconds} s at the same rate, SIGKILL halfway, the collector started again on the same files and port, and given time to deliver all it held.`, '',
      '| pipeline | killed | answered 2xx | failed | in nginx\'s log | stored | rows | lost | stored, not answered | duplicated | down ms |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...kills.map(([name, k]) => `| ${name} | ${k.killed} | ${k.answered} | ${k.failed} | ${k.logged ?? '–'} | ${k.stored} | ${k.rows} | ${k.lost} | ${k.storedUnanswered} | ${k.duplicated} | ${k.downMs} |`))
  }
  return lines.join('\n') + '\n'
}

/** Writes `<out>/<date>-<host>-flume.{json,md}`; returns the path without extension. */
export function writeFlumeResults (out: string, started: Date, command: string, r: FlumeResult): string {
  mkdirSync(out, { recursive: true })
  const base = join(out, `${started.toISOString().slice(0, 10)}-${hostname()}-flume`)
  let commit = 'unknown (not a git checkout)'
  try { commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim() } catch {}
  writeFileSync(`${base}.json`, JSON.stringify({ started: started.toISOString(), command, commit, machine: machine(), ...r }, null, 2) + '\n')
  writeFileSync(`${base}.md`, `# The seed's pipeline (nginx + Flume) against spoor, ${started.toISOString().slice(0, 10)} on ${hostname()}\n\nCommand: \`${command}\` at ${commit}\n\n${flumeMarkdown(r)}`)
  return base
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      'hbase-port': { type: 'string' },
      'zk-port': { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      'kill-seconds': { type: 'string' },
      'no-kills': { type: 'boolean', default: false },
      'taildir-backoff-ms': { type: 'string' },
      'salt-buckets': { type: 'string', default: String(defaults().hbase.saltBuckets) },
      'quiet-wait': { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' }
    }
  })
  const quick = values.quick === true
  const thriftPort = Number(values['hbase-port'])
  const zkPort = Number(values['zk-port'])
  if (!Number.isInteger(thriftPort) || thriftPort < 1 || !Number.isInteger(zkPort) || zkPort < 1) throw new RangeError('--hbase-port and --zk-port are required, as port numbers')
  const rate = Number(values.rate ?? DEFAULT_RATE)
  if (!Number.isInteger(rate) || rate < 1) throw new RangeError('--rate must be a positive integer')
  const seconds = Number(values.seconds ?? (quick ? 3 : 20))
  if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError('--seconds must be a positive integer')
  const killSeconds = values['no-kills'] === true ? 0 : Number(values['kill-seconds'] ?? (quick ? 4 : 20))
  if (!Number.isInteger(killSeconds) || killSeconds < 0 || killSeconds === 1) throw new RangeError('--kill-seconds must be an integer of at least 2')
  const saltBuckets = Number(values['salt-buckets'])
  if (!Number.isInteger(saltBuckets) || saltBuckets < 1 || saltBuckets > 256) throw new RangeError('--salt-buckets must be an integer from 1 to 256')
  const quietWaitMs = 1000 * Number(values['quiet-wait'] ?? (quick ? 0 : 15))
  if (!Number.isFinite(quietWaitMs) || quietWaitMs < 0) throw new RangeError('--quiet-wait must be a number of seconds, 0 or more')
  const taildirMaxBackoffMs = Number(values['taildir-backoff-ms'] ?? TAILDIR_MAX_BACKOFF_MS)
  if (!Number.isInteger(taildirMaxBackoffMs) || taildirMaxBackoffMs < 1) throw new RangeError('--taildir-backoff-ms must be a positive integer')
  const out = values.out ?? join(ROOT, 'bench', 'results', ...(quick ? ['tmp'] : []))
  const dataDir = mkdtempSync(join(tmpdir(), 'spoor-bench-flume-'))
  const started = new Date()
  const note = (text: string): void => { process.stderr.write(`${text}\n`) }
  try {
    const r = await flumeBench({ thriftPort, zkPort, saltBuckets, seconds, rate, quietWaitMs, dataDir, killSeconds, taildirMaxBackoffMs, note })
    const base = writeFlumeResults(out, started, shellLine(['node', 'dist/bench/flume.js', ...process.argv.slice(2)]), r)
    note(`results: ${base}.json, ${base}.md`)
    process.stdout.write(flumeMarkdown(r))
  } finally {
    if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true })
  }
}

if (require.main === module) {
  main().catch(err => {
    console.error(err)
    process.exit(1)
  })
}
