// `npm run bench`: spoor side by side with nginx empty_gif, bare uWS.js and a Node+pino server, then the buffer,
// the flush against HBase's own Java client, memory during an HBase outage, end-to-end lag, and the seed's whole
// pipeline (nginx, its access log and Flume into HBase) against spoor's at one offered load.
//
// Usage: node dist/bench/run.js [--quick] [--rounds N] [--seconds S] [--quiet-wait S] [--out DIR]
//                               [--sections a,b,…] [--hbase-port P --zk-port Z] [--salt-buckets N]
//   default   3 rounds of 3 s per contender and load generator (2 s for scaling), about 15 minutes; results in bench/results/
//   --quick   1 round of 1 s, no warm-up, short side sections, about 3 minutes; results in bench/results/tmp/ (gitignored)
//   --hbase-port/--zk-port   use an HBase that is already running (the test suite's) instead of starting the bench's
//   --salt-buckets N         regions per table (default 16, the collector's default); fewer spare a shared HBase
// Needs 2 cores, wrk, nginx (Debian: nginx-light), taskset, a build (`npm run build`), and JDK 17 and Maven.

import { execFile, execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { HBaseClient } from '../daemon/hbase/client'
import { ensureSchema } from '../daemon/hbase/schema'
import { LocalHBase } from '../daemon/dev/local-hbase'
import { bufferBench } from './buffer'
import { flushBench } from './flush'
import { DEFAULT_RATE as FLUME_RATE, flumeBench } from './flume'
import type { HandlerResult } from './handler'
import { measureLag } from './lag'
import { reportsBench, writeReportsResults } from './reports'
import { bodyFile, PIXEL, postWorkload, ROOT, runAutocannon, runWrk, shellLine, warmUp, type Generator, type LoadResult, type Workload } from './load'
import { writePlots } from './plot'
import { CLK_TCK, coreTicks, coreUse, loadAverage, machine, QUIET_BELOW_PCT, round1, waitQuiet } from './proc'
import { markdown, plotRuns, summarize, type CollectorCounts, type LoadRecord, type MemoryResult, type Results, type RunRecord, type Section } from './report'
import { answered, checkAnswer, nginxConfig, nginxVersion, spoorConfig, startBare, startNginx, startNodePino, startSpoor, type Answer, type HBaseTarget, type Health, type Running, type RunningSpoor } from './servers'

/** Its own directory and ports, apart from development (9090) and the test suite (19090), so all three can run at once. */
const HBASE_DIR = join(ROOT, '.spoor', 'bench-hbase')
/** A 3 GiB heap, as the test suite's: the flush section puts about 1 GB into the memstores, and 1 GiB ran out. */
const HBASE = { thriftPort: 29090, zkPort: 22181, basePort: 16200, heapMb: 3072 }
/** The collector's default; a shared HBase (--hbase-port) may ask for fewer regions with --salt-buckets. */
const DEFAULT_SALT_BUCKETS = 16
/** The one-core layout: the server on core 0; the load generator and the bench HBase on core 1. */
const SERVER_CPUS = '0'
const LOAD_CPUS = '1'
/** The scaling layout: with two cores, the server and the load generator share both. */
const SHARED_CPUS = '0,1'
/** Pixels per second beside the lag probes: well under what the flush keeps up with on this layout. */
const LAG_RATE = 2000

const SECTIONS = ['pixel', 'scaling', 'memory', 'lag', 'buffer', 'flush', 'flume', 'handler', 'reports'] as const
type SectionName = typeof SECTIONS[number]
/** `reports` loads millions of events and runs Spark jobs for the better part of an hour, so it runs only when asked for. */
const DEFAULT_SECTIONS: SectionName[] = SECTIONS.filter(s => s !== 'reports')


const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    'quiet-wait': { type: 'string' },
    out: { type: 'string' },
    sections: { type: 'string' },
    'hbase-port': { type: 'string' },
    'zk-port': { type: 'string' },
    'salt-buckets': { type: 'string' }
  }
})
const quick = args.quick === true
const rounds = Number(args.rounds ?? (quick ? 1 : 3))
const seconds = Number(args.seconds ?? (quick ? 1 : 3))
const quietWaitMs = 1000 * Number(args['quiet-wait'] ?? (quick ? 0 : 15))
/** --quick skips the warm-up: it checks that the suite works, and spoor's full pipeline would wait to flush the warm-up's events. */
const warmupSeconds = quick ? 0 : 1
/**
 * The scaling section's loads are a second shorter: spoor's full pipeline on two cores answers some 75k req/s, and
 * every event answered is flushed (at HBase's 8–10k events/s here) before the next load starts.
 */
const scalingSeconds = Math.max(1, seconds - 1)
const outageSeconds = quick ? 3 : 10
const lagSeconds = quick ? 3 : 20
const bufferEvents = quick ? 50_000 : 500_000
const flushEvents = quick ? 20_000 : 100_000
/** Events of the reports section's data sets (bench/reports.ts), one day per million. */
const reportsSizes = quick ? [50_000] : [1_000_000, 4_000_000]
const handlerCalls = quick ? 100_000 : 1_000_000
const outDir = args.out ?? join(ROOT, 'bench', 'results', ...(quick ? ['tmp'] : []))
const sections = new Set<SectionName>((args.sections?.split(',') ?? DEFAULT_SECTIONS).map(s => {
  if (!(SECTIONS as readonly string[]).includes(s)) throw new RangeError(`--sections: unknown section ${s}; the sections are ${SECTIONS.join(', ')}`)
  return s as SectionName
}))
const external = args['hbase-port'] === undefined ? undefined : { thriftPort: Number(args['hbase-port']), zkPort: Number(args['zk-port']) }
if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError('--rounds must be a positive integer')
if (!Number.isSafeInteger(seconds) || seconds < 1) throw new RangeError('--seconds must be a positive integer')
if (!Number.isFinite(quietWaitMs) || quietWaitMs < 0) throw new RangeError('--quiet-wait must be a number of seconds, 0 or more')
if (external !== undefined && !(external.thriftPort > 0 && external.zkPort > 0)) throw new RangeError('--hbase-port and --zk-port go together, as port numbers')

const SALT_BUCKETS = Number(args['salt-buckets'] ?? DEFAULT_SALT_BUCKETS)
if (!Number.isSafeInteger(SALT_BUCKETS) || SALT_BUCKETS < 1 || SALT_BUCKETS > 256) throw new RangeError('--salt-buckets must be an integer from 1 to 256')

const usPerTick = 1e6 / CLK_TCK
const hbase = new LocalHBase({ dir: HBASE_DIR, ...HBASE })
const thriftPort = external?.thriftPort ?? HBASE.thriftPort
const zkPort = external?.zkPort ?? HBASE.zkPort
const scratch = mkdtempSync(join(tmpdir(), 'spoor-bench-'))
let current: Running | undefined

const began = Date.now()

/** Progress on stderr, each line with the seconds since the start. */
function note (text: string): void {
  const at = `[${String(Math.round((Date.now() - began) / 1000)).padStart(4)} s] `
  process.stderr.write(`${text.split('\n').map(line => at + line).join('\n')}\n`)
}

async function withClient<T> (fn: (c: HBaseClient) => Promise<T>): Promise<T> {
  return await HBaseClient.using({ host: '127.0.0.1', port: thriftPort }, fn)
}

async function startHBase (): Promise<void> {
  if (external !== undefined) return
  // The bench HBase keeps nothing between invocations, so that no run inherits another's regions or compaction debt.
  await hbase.reset()
  note(`starting the bench HBase in ${HBASE_DIR} (Thrift2 on ${HBASE.thriftPort})…`)
  await hbase.start()
  // Kept off the server's core; it shares the load generator's, and its CPU is recorded per run.
  const s = await hbase.status()
  for (const pid of [s.master, s.thrift]) if (pid !== undefined) execFileSync('taskset', ['-a', '-p', '-c', LOAD_CPUS, String(pid)], { stdio: 'ignore' })
}

async function stopHBase (): Promise<void> {
  if (external !== undefined) return
  await hbase.reset()
}

async function freshTarget (name: string): Promise<HBaseTarget> {
  const stamp = `bench_${Date.now()}_${name.replace(/\W/g, '_')}`
  const target = { port: thriftPort, userTable: `${stamp}_user`, timeTable: `${stamp}_time`, saltBuckets: SALT_BUCKETS }
  await withClient(async c => await ensureSchema(c, target))
  return target
}

/** The commit measured, and what differed from it: the figures belong to this code. */
function source (): Results['source'] {
  const git = (...a: string[]): string => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim()
  try {
    return { commit: git('rev-parse', 'HEAD'), uncommitted: git('status', '--porcelain').split('\n').filter(l => l !== '') }
  } catch {
    return { commit: 'unknown (not a git checkout)', uncommitted: [] }
  }
}

interface Contender {
  name: string
  section: Section
  workload: Workload
  generators: Generator[]
  serverCpus: string
  loadCpus: string
  /** What kind of server, for the summary: spoor's full pipeline waits for its flush after each load. */
  kind: 'spoor' | 'spoor-no-flush' | 'other'
  start: () => Promise<Running>
}

function contenders (target: HBaseTarget): Contender[] {
  const one = { section: 'pixel' as const, serverCpus: SERVER_CPUS, loadCpus: LOAD_CPUS, generators: ['wrk', 'autocannon'] as Generator[] }
  const shared = { section: 'scaling' as const, serverCpus: SHARED_CPUS, loadCpus: SHARED_CPUS, generators: ['wrk'] as Generator[], workload: PIXEL }
  const list: Contender[] = [
    { ...one, name: 'bare-uws', workload: PIXEL, kind: 'other', start: async () => await startBare(SERVER_CPUS) },
    { ...one, name: 'nginx', workload: PIXEL, kind: 'other', start: async () => await startNginx(SERVER_CPUS, 1) },
    { ...one, name: 'node-pino', workload: PIXEL, kind: 'other', start: async () => await startNodePino(SERVER_CPUS) },
    { ...one, name: 'spoor', workload: PIXEL, kind: 'spoor', start: async () => await startSpoor(SERVER_CPUS, target, { threads: 1, flush: true }) },
    { ...one, name: 'spoor-no-flush', workload: PIXEL, kind: 'spoor-no-flush', start: async () => await startSpoor(SERVER_CPUS, target, { threads: 1, flush: false }) },
    ...[1, 10, 100].map(n => ({
      ...one,
      name: `spoor-post-${n}`,
      workload: postWorkload(n),
      kind: 'spoor-no-flush' as const,
      start: async () => await startSpoor(SERVER_CPUS, target, { threads: 1, flush: false })
    })),
    ...[1, 2].flatMap(n => [
      { ...shared, name: `spoor-${n}t`, kind: 'spoor' as const, start: async () => await startSpoor(SHARED_CPUS, target, { threads: n, flush: true }) },
      { ...shared, name: `nginx-${n}w`, kind: 'other' as const, start: async () => await startNginx(SHARED_CPUS, n) }
    ])
  ]
  return list.filter(c => sections.has(c.section))
}

function counts (before: Health, after: Health, w: Workload): CollectorCounts {
  const m0 = before.metrics
  const m1 = after.metrics
  const route = w.method === 'GET' ? 'pixel' : 'events'
  const rejected = Object.fromEntries(Object.entries(m1.rejected).map(([code, n]) => [code, n - (m0.rejected[code] ?? 0)]).filter(([, n]) => n !== 0))
  return {
    answered: answered(after, route) - answered(before, route),
    eventsAccepted: m1.eventsAccepted - m0.eventsAccepted,
    eventsDropped: m1.eventsDropped - m0.eventsDropped,
    rejected
  }
}

/** One load generator's measured run against a running server, with the server's CPU, memory and, for spoor, its counts. */
async function measureLoad (c: Contender, server: Running, generator: Generator, body: string | undefined): Promise<LoadRecord> {
  const spoor = c.kind === 'other' ? undefined : server as RunningSpoor
  // The full pipeline flushes what came before first, so that the measured run starts with an empty buffer.
  const before = c.kind === 'spoor' ? await spoor?.flushed() : await spoor?.health()
  const cpu0 = server.cpuTicks()
  const cores0 = coreTicks()
  let rssMax = server.rssBytes()
  let anonMax = server.anonBytes()
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, server.rssBytes())
    anonMax = Math.max(anonMax, server.anonBytes())
  }, 250)
  const run = generator === 'wrk' ? runWrk : runAutocannon
  let load: LoadResult
  try {
    load = await run(server.port, c.workload, c.section === 'scaling' ? scalingSeconds : seconds, c.loadCpus, body)
  } finally {
    clearInterval(sampler)
  }
  const cpu1 = server.cpuTicks()
  const cores1 = coreTicks()
  const rssEnd = server.rssBytes()
  const loadEnded = Date.now()
  const record: LoadRecord = {
    ...load,
    serverCpuTicks: cpu1 - cpu0,
    serverCpuUsPerRequest: Math.round(1000 * (cpu1 - cpu0) * usPerTick / load.requests) / 1000,
    cores: coreUse(cores0, cores1),
    othersOnServerCorePct: 0,
    rssMaxBytes: Math.max(rssMax, rssEnd),
    rssEndBytes: rssEnd,
    anonMaxBytes: Math.max(anonMax, server.anonBytes())
  }
  if (c.serverCpus === SERVER_CPUS) {
    const core = Number(SERVER_CPUS)
    const serverPct = 100 * (cpu1 - cpu0) / ((cores1[core].total - cores0[core].total) || 1)
    record.othersOnServerCorePct = round1(Math.max(0, record.cores[core].busyPct - serverPct))
  }
  if (spoor !== undefined && before !== undefined) {
    const after = c.kind === 'spoor' ? await spoor.flushed() : await spoor.health()
    record.collector = counts(before, after, c.workload)
    if (c.kind === 'spoor') {
      const cpu2 = server.cpuTicks()
      const delivered = after.metrics.eventsDelivered - before.metrics.eventsDelivered
      const expected = record.collector.answered * c.workload.eventsPerRequest
      record.flush = {
        eventsDelivered: delivered,
        deliveredAll: expected === record.collector.eventsAccepted && delivered === record.collector.eventsAccepted,
        flushTailMs: Date.now() - loadEnded,
        cpuUsPerEventInclFlush: Math.round(1000 * (cpu2 - cpu0) * usPerTick / Math.max(1, delivered)) / 1000
      }
    }
  }
  return record
}

async function runOnce (round: number, position: number, c: Contender, answers: Map<string, Answer>): Promise<RunRecord> {
  const quiet = await waitQuiet(quietWaitMs)
  const loadAverageBefore = loadAverage()
  const startedAt = new Date().toISOString()
  const server = await c.start()
  current = server
  const body = bodyFile(c.workload, scratch)
  let record: RunRecord
  try {
    const answer = await checkAnswer(server.port, c.workload, answers.get(c.workload.name))
    answers.set(c.workload.name, answer)
    if (warmupSeconds > 0) await warmUp(server.port, c.workload, warmupSeconds, c.loadCpus, body)
    const loads: LoadRecord[] = []
    for (const generator of c.generators) loads.push(await measureLoad(c, server, generator, body))
    record = { section: c.section, contender: c.name, workload: c.workload.name, round, position, startedAt, loadAverageBefore, quiet, serverCommand: server.command, serverCpus: server.cpus, loads, exitCode: null }
  } catch (err) {
    const death = server.death()
    await server.stop(5000)
    throw death === undefined ? err : new Error(`${c.name} died during round ${round + 1}: ${death}`, { cause: err })
  } finally {
    current = undefined
  }
  record.exitCode = await server.stop()
  if (record.exitCode !== 0) note(`  ${c.name} exited with ${String(record.exitCode)}`)
  return record
}

function progress (run: RunRecord): string {
  return run.loads.map(l => {
    const f = l.flush
    return `round ${run.round + 1}/${rounds} ${run.contender.padEnd(15)} ${l.generator.padEnd(10)} ${String(l.requestsPerSecond).padStart(6)} req/s ` +
      `${String(l.eventsPerSecond).padStart(7)} ev/s  p99 ${l.latencyUs.p99} µs  ${l.serverCpuUsPerRequest} CPU µs/req  RSS ${Math.round(l.rssMaxBytes / 2 ** 20)} MiB` +
      `${run.quiet.gaveUp ? ' NOISY' : ''}${f === undefined ? '' : `  delivered ${f.eventsDelivered}, flushed ${f.flushTailMs} ms after`}`
  }).join('\n')
}

/** spoor with HBase unreachable under full load: memory must stay flat while the buffer grows on disk. */
async function measureOutage (target: HBaseTarget): Promise<MemoryResult['outage']> {
  const spoor = await startSpoor(SERVER_CPUS, target, { threads: 1, flush: false })
  current = spoor
  try {
    if (warmupSeconds > 0) await warmUp(spoor.port, PIXEL, warmupSeconds, LOAD_CPUS)
    const before = await spoor.health()
    const samples: MemoryResult['outage']['samples'] = []
    const started = Date.now()
    const sample = (): void => { samples.push({ atMs: Date.now() - started, rssBytes: spoor.rssBytes(), anonBytes: spoor.anonBytes(), bufferBytes: spoor.diskBytes() }) }
    sample()
    const sampler = setInterval(sample, 500)
    let load: LoadResult
    try {
      load = await runWrk(spoor.port, PIXEL, outageSeconds, LOAD_CPUS)
    } finally {
      clearInterval(sampler)
    }
    sample()
    const h = await spoor.health()
    return { seconds: outageSeconds, requests: load.requests, eventsBuffered: h.metrics.eventsAccepted - before.metrics.eventsAccepted, command: load.command, samples }
  } finally {
    current = undefined
    await spoor.stop()
  }
}

function runHandler (): Promise<HandlerResult> {
  return new Promise((resolve, reject) => {
    execFile('taskset', ['-c', SERVER_CPUS, process.execPath, 'dist/bench/handler.js', '--json', '--calls', String(handlerCalls)], { cwd: ROOT }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`bench/handler.js failed: ${err.message}\n${stderr}`))
      else resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as HandlerResult)
    })
  })
}

async function main (): Promise<void> {
  const m = machine()
  if (m.cores < 2) throw new Error('the benchmark pins the server and the load generator to separate cores, and this machine has one')
  process.once('SIGINT', () => {
    note('interrupted; stopping the server and the bench HBase')
    void Promise.allSettled([current?.stop(5000), stopHBase()]).finally(() => process.exit(130))
  })
  const runs: RunRecord[] = []
  const answers = new Map<string, Answer>()
  const results: Partial<Results> = {}
  const needsHBase = ['pixel', 'scaling', 'memory', 'lag', 'flush', 'flume', 'reports'].some(s => sections.has(s as SectionName))
  if (needsHBase) await startHBase()
  try {
    const target = needsHBase ? await freshTarget('collector') : { port: thriftPort, userTable: '', timeTable: '', saltBuckets: SALT_BUCKETS }
    results.spoorConfig = spoorConfig('$DATA_DIR', target, { threads: 1, flush: true })
    const list = contenders(target)
    for (const section of ['pixel', 'scaling'] as const) {
      const inSection = list.filter(c => c.section === section)
      for (let round = 0; round < rounds && inSection.length > 0; round++) {
        // Rotating who goes first spreads any drift (HBase compactions, neighbours, heat) over all contenders.
        const order = inSection.map((_, i) => inSection[(i + round) % inSection.length])
        for (const [position, c] of order.entries()) {
          const run = await runOnce(round, position, c, answers)
          runs.push(run)
          note(progress(run))
        }
      }
    }
    if (sections.has('memory')) {
      note('memory: spoor with HBase unreachable, under full load…')
      results.outage = await measureOutage(target)
    }
    if (sections.has('lag')) {
      note(`lag: probes beside ${LAG_RATE} pixels/s…`)
      await waitQuiet(quietWaitMs)
      const lagTarget = await freshTarget('lag')
      const spoor = await startSpoor(SERVER_CPUS, lagTarget, { threads: 1, flush: true })
      current = spoor
      try {
        results.lag = await withClient(async c => await measureLag(spoor, c, lagTarget, lagSeconds, LAG_RATE, LOAD_CPUS))
      } finally {
        current = undefined
        await spoor.stop()
      }
    }
    if (sections.has('flush')) {
      note(`flush: ${flushEvents} events through spoor's flush, then HBase's BufferedMutator…`)
      await waitQuiet(quietWaitMs)
      const dataDir = join(scratch, 'flush')
      results.flush = await flushBench({ thriftPort, zkPort, events: flushEvents, saltBuckets: SALT_BUCKETS, dataDir, quietWaitMs })
    }
    if (sections.has('flume')) {
      note(`flume: the seed's nginx + Flume pipeline against spoor at ${FLUME_RATE} events/s…`)
      mkdirSync(join(scratch, 'flume'), { recursive: true })
      results.flume = await flumeBench({ thriftPort, zkPort, saltBuckets: SALT_BUCKETS, seconds: quick ? 3 : 20, rate: FLUME_RATE, quietWaitMs, dataDir: join(scratch, 'flume'), killSeconds: quick ? 4 : 20, note })
    }
    if (sections.has('reports')) {
      note(`reports: ${reportsSizes.join(' and ')} events, each report and RowCounter over them…`)
      const started = new Date()
      const sized = await reportsBench({ thriftPort, zkPort, sizes: reportsSizes, saltBuckets: SALT_BUCKETS, heapMb: 2048, dataDir: join(scratch, 'reports') })
      note(`reports: results in ${await writeReportsResults(outDir, started, shellLine(['node', 'dist/bench/run.js', ...process.argv.slice(2)]), { saltBuckets: SALT_BUCKETS, heapMb: 2048 }, sized)}.{json,md}`)
    }
  } finally {
    if (needsHBase) await stopHBase()
  }
  if (sections.has('buffer')) {
    note(`buffer: ${bufferEvents} events through encode and LMDB append…`)
    results.buffer = await bufferBench({ events: bufferEvents, dataDir: join(scratch, 'buffer') })
  }
  if (sections.has('handler')) {
    note('handler: timing the pixel handler in-process…')
    results.handler = await runHandler()
  }

  const date = new Date().toISOString().slice(0, 10)
  const full: Results = {
    benchmark: 'spoor',
    date,
    elapsedSeconds: Math.round((Date.now() - began) / 1000),
    machine: { ...m, nginx: nginxVersion() },
    source: source(),
    settings: {
      rounds,
      seconds,
      warmupSeconds,
      quick,
      sections: [...sections],
      serverCpus: SERVER_CPUS,
      loadCpus: LOAD_CPUS,
      sharedCpus: SHARED_CPUS,
      hbase: external !== undefined ? `an HBase already running (Thrift2 on ${thriftPort}), ${SALT_BUCKETS} salt buckets` : `a fresh single-node HBase, ${SALT_BUCKETS} salt buckets, pinned to core ${LOAD_CPUS} with taskset -a -p`,
      quietBelowPct: QUIET_BELOW_PCT,
      quietWaitMaxMs: quietWaitMs,
      lagRate: LAG_RATE,
      scalingSeconds,
      outageSeconds,
      lagSeconds,
      bufferEvents,
      flushEvents,
      handlerCalls
    },
    commands: {
      benchmark: shellLine(['node', 'dist/bench/run.js', ...process.argv.slice(2)]),
      bare: shellLine(['taskset', '-c', SERVER_CPUS, 'node', 'dist/bench/bare-uws.js']),
      nginx: shellLine(['taskset', '-c', SERVER_CPUS, 'nginx', '-e', '$DIR/error.log', '-p', '$DIR', '-c', '$DIR/nginx.conf']),
      nodePino: shellLine(['taskset', '-c', SERVER_CPUS, 'node', 'dist/bench/node-pino.js', '--log', '$DIR/access.log']),
      spoor: shellLine(['taskset', '-c', SERVER_CPUS, 'node', 'dist/daemon/cli.js', 'serve', '--config', '$DATA_DIR/spoor.toml']),
      handler: shellLine(['taskset', '-c', SERVER_CPUS, 'node', 'dist/bench/handler.js', '--json', '--calls', String(handlerCalls)])
    },
    nginxConfig: nginxConfig('$DIR', '$PORT', 1),
    spoorConfig: results.spoorConfig ?? '',
    answers: Object.fromEntries(answers),
    runs,
    outage: results.outage,
    lag: results.lag,
    flush: results.flush,
    buffer: results.buffer,
    handler: results.handler,
    flume: results.flume,
    summary: summarize(runs, results),
    plotRuns: []
  }
  full.plotRuns = plotRuns(runs)
  mkdirSync(outDir, { recursive: true })
  const base = join(outDir, `${date}-${m.hostname}`)
  const plots = await writePlots(full.plotRuns, base)
  writeFileSync(`${base}.json`, `${JSON.stringify(full, null, 2)}\n`)
  const page = markdown(full, plots.map(p => p.slice(outDir.length + 1)))
  writeFileSync(`${base}.md`, page)
  console.log(page)
  note(`results: ${base}.json, ${base}.md and ${plots.length} plots, after ${full.elapsedSeconds} s`)
  const undelivered = runs.flatMap(r => r.loads.filter(l => l.flush !== undefined && !l.flush.deliveredAll).map(l => `${r.contender} round ${r.round + 1} (${l.generator})`))
  if (undelivered.length > 0) throw new Error(`spoor did not deliver every event it answered: ${undelivered.join(', ')}`)
}

main().then(() => {
  rmSync(scratch, { recursive: true, force: true })
}, err => {
  console.error(err)
  rmSync(scratch, { recursive: true, force: true })
  void Promise.allSettled([current?.stop(5000), stopHBase()]).finally(() => process.exit(1))
})
