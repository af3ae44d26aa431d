// `npm run bench`: spoor's pixel pipeline against bare uWS.js over HTTP, in interleaved rounds, then the in-process handler timing.
//
// Usage: node dist/bench/pixel.js [--quick] [--rounds N] [--seconds S] [--quiet-wait S] [--out DIR]
//   default   5 rounds of 10 s per contender, results in bench/results/
//   --quick   2 rounds of 3 s, results in bench/results/tmp/ (gitignored): checks that the benchmark works
// Needs 2 cores, wrk, taskset, a build (`npm run build`), and JDK 17 and Maven for the bench HBase.

import { execFile, execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { HBaseClient } from '../daemon/hbase-client'
import { ensureSchema } from '../daemon/hbase-schema'
import { LocalHBase } from '../daemon/local-hbase'
import { checkAnswer, CONTENDERS, pixelsAnswered, SERVER_CORE, spoorConfig, startBare, startSpoor, type Answer, type ContenderName, type HBaseTarget, type Health, type Running, type RunningSpoor } from './contenders'
import type { HandlerResult } from './handler'
import { CLK_TCK, coreTicks, coreUse, loadAverage, machine, machineBusyPct, processTicks, round1 } from './proc'
import { markdown, summarize, type CollectorCounts, type FlushFigures, type Results, type RunRecord } from './report'
import { HEADERS, PATH } from './request'
import { CONNECTIONS, LOAD_CORE, measure, ROOT, shellLine, warmUp, wrkArgs } from './wrk'

/** Its own directory and ports, apart from development (9090) and the test suite (19090), so all three can run at once. */
const HBASE_DIR = join(ROOT, '.spoor', 'bench-hbase')
const HBASE = { thriftPort: 29090, zkPort: 22181, basePort: 16200 }
const SALT_BUCKETS = 16
/**
 * A run starts once the machine uses less than this share of its cores. That counts the bench HBase too: after a
 * full-pipeline run it compacts for a while on the load generator's core, which would slow the next run's wrk.
 */
const QUIET_BELOW_PCT = 10

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    'quiet-wait': { type: 'string' },
    out: { type: 'string' }
  }
})
const quick = args.quick === true
const rounds = Number(args.rounds ?? (quick ? 2 : 5))
const seconds = Number(args.seconds ?? (quick ? 3 : 10))
const quietWaitMs = 1000 * Number(args['quiet-wait'] ?? (quick ? 10 : 120))
const warmupSeconds = quick ? 1 : 2
const outDir = args.out ?? join(ROOT, 'bench', 'results', ...(quick ? ['tmp'] : []))
if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError('--rounds must be a positive integer')
if (!Number.isSafeInteger(seconds) || seconds < 1) throw new RangeError('--seconds must be a positive integer')
if (!Number.isFinite(quietWaitMs) || quietWaitMs < 0) throw new RangeError('--quiet-wait must be a number of seconds, 0 or more')

const usPerTick = 1e6 / CLK_TCK
const hbase = new LocalHBase({ dir: HBASE_DIR, ...HBASE })
let current: Running | undefined

function note (text: string): void {
  process.stderr.write(`${text}\n`)
}

/** The bench HBase keeps nothing between invocations, so that no run inherits another's regions or compaction debt. */
function wipeHBaseData (): void {
  for (const sub of ['data', 'zk', 'tmp']) rmSync(join(HBASE_DIR, sub), { recursive: true, force: true })
}

async function hbasePids (): Promise<number[]> {
  const s = await hbase.status()
  if (s.master === undefined || s.thrift === undefined) throw new Error('the bench HBase is not running')
  return [s.master, s.thrift]
}

async function startHBase (): Promise<HBaseTarget> {
  await hbase.stop()
  wipeHBaseData()
  note(`starting the bench HBase in ${HBASE_DIR} (Thrift2 on ${HBASE.thriftPort})…`)
  await hbase.start()
  // Kept off the server's core; it shares the load generator's, and its CPU is recorded per run.
  for (const pid of await hbasePids()) execFileSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(pid)], { stdio: 'ignore' })
  const stamp = `bench_${Date.now()}`
  const target = { port: HBASE.thriftPort, userTable: `${stamp}_user`, timeTable: `${stamp}_time`, saltBuckets: SALT_BUCKETS }
  const client = await HBaseClient.connect({ host: '127.0.0.1', port: HBASE.thriftPort })
  try {
    await ensureSchema(client, target)
  } finally {
    await client.close()
  }
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

async function hbaseTicks (): Promise<number> {
  return (await hbasePids()).reduce((sum, pid) => sum + processTicks(pid), 0)
}

/** Waits until the machine is idle, up to quietWaitMs: tests or builds running beside would skew the run. */
async function waitQuiet (): Promise<RunRecord['quiet']> {
  const started = Date.now()
  for (;;) {
    const busyPct = await machineBusyPct(1000)
    const waitedMs = Date.now() - started
    if (busyPct < QUIET_BELOW_PCT) return { waitedMs, busyPct, gaveUp: false }
    if (waitedMs >= quietWaitMs) return { waitedMs, busyPct, gaveUp: true }
  }
}

function counts (before: Health, after: Health): CollectorCounts {
  const m0 = before.metrics
  const m1 = after.metrics
  const rejected = Object.fromEntries(Object.entries(m1.rejected).map(([code, n]) => [code, n - (m0.rejected[code] ?? 0)]).filter(([, n]) => n !== 0))
  return { pixels: pixelsAnswered(after) - pixelsAnswered(before), eventsAccepted: m1.eventsAccepted - m0.eventsAccepted, eventsDropped: m1.eventsDropped - m0.eventsDropped, rejected }
}

async function runOnce (round: number, position: number, contender: ContenderName, target: HBaseTarget, answers: Answer[]): Promise<RunRecord> {
  const quiet = await waitQuiet()
  const loadAverageBefore = loadAverage()
  const startedAt = new Date().toISOString()
  const server = contender === 'bare-uws' ? await startBare() : await startSpoor(target, contender === 'spoor')
  current = server
  const spoor = contender === 'bare-uws' ? undefined : server as RunningSpoor
  let record: RunRecord
  try {
    answers.push(await checkAnswer(server.port, answers[0]))
    await warmUp(server.port, warmupSeconds)
    // The full pipeline flushes the warm-up's events first, so the measured run starts with an empty buffer.
    const before = contender === 'spoor' ? await spoor?.flushed() : await spoor?.health()
    const hbase0 = await hbaseTicks()
    const cpu0 = processTicks(server.pid)
    const cores0 = coreTicks()
    const wrk = await measure(server.port, seconds)
    const cpu1 = processTicks(server.pid)
    const cores1 = coreTicks()
    const loadEnded = Date.now()
    let collector: CollectorCounts | undefined
    let flush: FlushFigures | undefined
    if (spoor !== undefined && before !== undefined) {
      const after = contender === 'spoor' ? await spoor.flushed() : await spoor.health()
      collector = counts(before, after)
      if (contender === 'spoor') {
        const flushTailMs = Date.now() - loadEnded
        const cpu2 = processTicks(server.pid)
        const hbase1 = await hbaseTicks()
        const eventsDelivered = after.metrics.eventsDelivered - before.metrics.eventsDelivered
        flush = {
          eventsDelivered,
          deliveredAll: collector.pixels === collector.eventsAccepted && collector.eventsAccepted === eventsDelivered,
          flushTailMs,
          cpuUsPerEventInclFlush: Math.round(1000 * (cpu2 - cpu0) * usPerTick / eventsDelivered) / 1000,
          hbaseCpuUsPerEvent: Math.round(1000 * (hbase1 - hbase0) * usPerTick / eventsDelivered) / 1000
        }
      }
    }
    const cores = coreUse(cores0, cores1)
    const serverCorePct = 100 * (cpu1 - cpu0) / ((cores1[SERVER_CORE].total - cores0[SERVER_CORE].total) || 1)
    record = {
      round,
      position,
      contender,
      startedAt,
      loadAverageBefore,
      quiet,
      serverCommand: server.command,
      serverCpus: server.cpus,
      wrkCommand: shellLine(wrkArgs(server.port, seconds, true)),
      wrk,
      serverCpuTicks: cpu1 - cpu0,
      serverCpuUsPerRequest: Math.round(1000 * (cpu1 - cpu0) * usPerTick / wrk.requests) / 1000,
      cores,
      othersOnServerCorePct: round1(Math.max(0, cores[SERVER_CORE].busyPct - serverCorePct)),
      exitCode: null,
      collector,
      flush
    }
  } catch (err) {
    const death = server.death()
    await server.stop(5000)
    throw death === undefined ? err : new Error(`${contender} died during round ${round + 1}: ${death}`, { cause: err })
  } finally {
    current = undefined
  }
  record.exitCode = await server.stop()
  if (record.exitCode !== 0) note(`  ${contender} exited with ${String(record.exitCode)}`)
  return record
}

function runHandler (): Promise<HandlerResult> {
  return new Promise((resolve, reject) => {
    execFile('taskset', ['-c', String(SERVER_CORE), process.execPath, 'dist/bench/handler.js', '--json'], { cwd: ROOT }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`bench/handler.js failed: ${err.message}\n${stderr}`))
      else resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as HandlerResult)
    })
  })
}

function progress (run: RunRecord): string {
  const f = run.flush
  return `round ${run.round + 1}/${rounds} ${run.contender.padEnd(14)} ${String(run.wrk.requestsPerSecond).padStart(6)} req/s  p99 ${run.wrk.latencyUs.p99} µs  ` +
    `${run.serverCpuUsPerRequest} CPU µs/req  core0 ${run.cores[SERVER_CORE].busyPct}% (others ${run.othersOnServerCorePct}%)  ` +
    `load ${run.loadAverageBefore[0]}${run.quiet.gaveUp ? ' NOISY' : ''}` +
    (f === undefined ? '' : `  delivered ${f.eventsDelivered}/${run.collector?.pixels ?? 0}, flushed ${f.flushTailMs} ms after`)
}

async function main (): Promise<void> {
  const m = machine()
  if (m.cores < 2) throw new Error('the benchmark pins the server and wrk to separate cores, and this machine has one')
  process.once('SIGINT', () => {
    note('interrupted; stopping the server and the bench HBase')
    void Promise.allSettled([current?.stop(5000), hbase.stop()]).finally(() => process.exit(130))
  })

  const target = await startHBase()
  const runs: RunRecord[] = []
  const answers: Answer[] = []
  try {
    for (let round = 0; round < rounds; round++) {
      // Rotating who goes first spreads any drift (HBase compactions, neighbours, heat) over all contenders.
      const order = CONTENDERS.map((_, i) => CONTENDERS[(i + round) % CONTENDERS.length])
      for (const [position, contender] of order.entries()) {
        const run = await runOnce(round, position, contender, target, answers)
        runs.push(run)
        note(progress(run))
      }
    }
  } finally {
    await hbase.stop()
    wipeHBaseData()
  }

  note('timing the pixel handler in-process…')
  const handler = await runHandler()

  const date = new Date().toISOString().slice(0, 10)
  const results: Results = {
    benchmark: 'pixel',
    date,
    machine: m,
    source: source(),
    settings: {
      rounds,
      seconds,
      warmupSeconds,
      quick,
      serverCore: SERVER_CORE,
      loadCore: LOAD_CORE,
      connections: CONNECTIONS,
      hbase: `(a fresh single-node HBase, ${SALT_BUCKETS} salt buckets) pinned to core ${LOAD_CORE} with taskset -a -p`,
      quietBelowPct: QUIET_BELOW_PCT,
      quietWaitMaxMs: quietWaitMs
    },
    commands: {
      benchmark: shellLine(['node', 'dist/bench/pixel.js', ...process.argv.slice(2)]),
      wrk: shellLine(wrkArgs('$PORT', seconds, true)),
      bare: shellLine(['taskset', '-c', String(SERVER_CORE), 'node', 'dist/bench/bare-uws.js']),
      spoor: shellLine(['taskset', '-c', String(SERVER_CORE), 'node', 'dist/daemon/cli.js', 'serve', '--config', '$DATA_DIR/spoor.toml']),
      handler: shellLine(['taskset', '-c', String(SERVER_CORE), 'node', 'dist/bench/handler.js', '--json'])
    },
    spoorConfig: { spoor: spoorConfig('$DATA_DIR', target), 'spoor-no-flush': spoorConfig('$DATA_DIR', target, false) },
    request: { path: PATH, pathBytes: Buffer.byteLength(PATH), headers: { ...HEADERS } },
    answer: answers[0],
    runs,
    handler,
    summary: summarize(runs, handler)
  }
  mkdirSync(outDir, { recursive: true })
  const base = join(outDir, `${date}-${m.hostname}-pixel`)
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`)
  const page = markdown(results)
  writeFileSync(`${base}.md`, page)
  console.log(page)
  note(`results: ${base}.json and .md`)
  const undelivered = runs.filter(r => r.flush !== undefined && !r.flush.deliveredAll)
  if (undelivered.length > 0) throw new Error(`spoor did not deliver every event it answered in rounds ${undelivered.map(r => r.round + 1).join(', ')}`)
}

main().catch(err => {
  console.error(err)
  void Promise.allSettled([current?.stop(5000), hbase.stop()]).finally(() => process.exit(1))
})
