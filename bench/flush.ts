// Sustained events per second from the buffer into HBase through spoor's flush, against HBase's own Java client writing the same rows.
//
// Usage: node dist/bench/flush.js --thrift-port P --zk-port Z [--events N] [--salt-buckets N] [--workers N] [--in-flight N]
//   (default 200000 events and the config's salt buckets; prints one JSON line, and notes on stderr)
// Needs a running local HBase (daemon/local-hbase.ts: its Thrift2 gateway on P, its ZooKeeper on Z), JDK 17 and
// Maven. Each run creates two fresh pairs of tables, named with the time, and leaves them behind. Give that HBase a
// 3 GiB heap (LocalHBase's heapMb) and a fresh data directory: 200,000 events put about 1 GB into the memstores of
// the four tables, and with the default 1 GiB heap the region server ran out of memory during the Java run.
//
// - spoor: a fresh buffer is filled with the bench request (buffer.ts), and the real Flusher, with the default
//   flush config (workers, in flight, request size), writes it to one pair of tables. Timed from the first flush
//   until the last batch is acknowledged, which leaves the buffer empty.
// - Java: the same events, decoded from the same batches, go to the other pair through bench/java/MutatorBench.java,
//   one BufferedMutator per table. That is what HBase's own client does on this machine: the practical limit.
// Each run starts once the machine is quiet, so that neither pays for the other's memstore flushes and compactions.
// The bench request carries one uid, so every by-user row goes to one region, for spoor and Java alike.
// Both pairs of tables are counted afterwards, and every table must hold one row per event; the first rows of each
// pair are compared cell by cell, timestamps included.

import { execFile } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { EventBuffer } from '../daemon/pipeline/buffer'
import { defaults, type Config } from '../daemon/config'
import { Flusher } from '../daemon/pipeline/flush'
import { HBaseClient } from '../daemon/hbase/client'
import { countRows } from '../daemon/hbase/reader'
import { ensureSchema } from '../daemon/hbase/schema'
import { JDK17_FLAGS, mavenClasspath } from '../daemon/dev/jvm'
import { repoDir } from '../daemon/repo-dir'
import { decodeBatch, FAMILY, QUALIFIERS, storedCells, type EncodedEvent } from '../test/reference/batch'
import { SharedState } from '../daemon/pipeline/shared-state'
import type { TResult } from '../daemon/hbase/thrift-gen/hbase_types'
import { fill } from './buffer'
import { shellLine } from './load'
import { coreTicks, waitQuiet, type CoreTicks } from './proc'

export interface FlushResult {
  events: number
  spoor: { eventsPerSecond: number, seconds: number, workers: number, inFlight: number, rowsUser: number, rowsTime: number }
  java: { eventsPerSecond: number, seconds: number, rowsUser: number, rowsTime: number, command: string }
  /** spoor's events per second over Java's. */
  ratio: number
}

const HBASE_DIR = repoDir('hbase')
const ROOT = dirname(HBASE_DIR)

/** How long each side waits for the machine to go quiet by default. */
const QUIET_WAIT_MS = 120_000

/**
 * The pool starts its worker threads, which load flush-worker.js, as the Flusher is constructed. Waiting this long
 * keeps that start-up out of the timing, as the JVM's start is kept out of Java's.
 */
const POOL_START_MS = 1000

/** Big-endian "SPR1", the rows file's header (MutatorBench.java). */
const ROWS_MAGIC = 0x53505231

function note (text: string): void {
  process.stderr.write(`${text}\n`)
}

/** Share of all cores busy between two readings, in percent. */
function busyPct (before: CoreTicks[], after: CoreTicks[]): number {
  let busy = 0
  let total = 0
  after.forEach((a, i) => {
    busy += a.busy - before[i].busy
    total += a.total - before[i].total
  })
  return Math.round(1000 * busy / (total || 1)) / 10
}

/** Waits until the machine is quiet, so that neither side pays for the other's memstore flushes and compactions. */
async function quiet (what: string, maxWaitMs: number): Promise<void> {
  const q = await waitQuiet(maxWaitMs)
  const waited = Math.round(q.waitedMs / 1000)
  note(q.gaveUp ? `${what}: machine still ${q.busyPct}% busy after ${waited} s; running anyway (NOISY)` : `${what}: machine ${q.busyPct}% busy after waiting ${waited} s`)
}

async function withClient<T> (port: number, use: (client: HBaseClient) => Promise<T>): Promise<T> {
  return await HBaseClient.using({ host: '127.0.0.1', port, requestTimeoutMs: 120_000 }, use)
}

async function countBoth (port: number, userTable: string, timeTable: string, events: number): Promise<{ rowsUser: number, rowsTime: number }> {
  const [rowsUser, rowsTime] = await withClient(port, async client => [await countRows(client, userTable), await countRows(client, timeTable)])
  if (rowsUser !== events || rowsTime !== events) throw new Error(`${userTable} holds ${rowsUser} rows and ${timeTable} ${rowsTime}; both should hold ${events}`)
  return { rowsUser, rowsTime }
}

/** Rows compared between spoor's tables and Java's, from the start of each. */
const COMPARED_ROWS = 1000

/** A row as text, cells sorted: key, and each cell's family, qualifier, timestamp and value. */
function rowText (r: TResult): string {
  const cells = r.columnValues.map(c => `${c.family.toString('hex')}:${c.qualifier.toString('hex')}@${c.timestamp?.toOctetString() ?? '-'}=${c.value.toString('hex')}`)
  return `${r.row?.toString('hex') ?? ''} ${cells.sort().join(' ')}`
}

/** Checks that Java wrote the same cells as spoor: the first COMPARED_ROWS rows of each table pair must match exactly. */
async function checkSameRows (port: number, pairs: Array<[string, string]>): Promise<void> {
  await withClient(port, async client => {
    for (const [spoor, java] of pairs) {
      const [a, b] = [await client.getScannerResults(spoor, {}, COMPARED_ROWS), await client.getScannerResults(java, {}, COMPARED_ROWS)]
      const i = a.findIndex((row, n) => b[n] === undefined || rowText(row) !== rowText(b[n]))
      if (i >= 0 || a.length !== b.length) throw new Error(`${java} differs from ${spoor} at row ${i >= 0 ? i : Math.min(a.length, b.length)}`)
    }
  })
}

function bytes8 (value: Buffer): Buffer[] {
  if (value.length > 255) throw new RangeError(`${value.length} bytes do not fit a rows-file length byte`)
  return [Buffer.from([value.length]), value]
}

function eventParts (e: EncodedEvent): Buffer[] {
  const ts = Buffer.allocUnsafe(8)
  ts.writeBigInt64BE(BigInt(e.ts))
  // The cells spoor's flush writes, those it adds from the user agent included, so both write the same rows.
  const cells = storedCells(e)
  const parts = [ts, ...bytes8(e.userKey), ...bytes8(e.timeKey), Buffer.from([cells.length])]
  for (const [q, value] of cells) {
    const head = Buffer.allocUnsafe(3)
    head[0] = q
    head.writeUInt16BE(value.length, 1)
    parts.push(head, value)
  }
  return parts
}

/**
 * Writes every event in the buffer to `file` in the format MutatorBench.java reads: its rowkeys, cell timestamp,
 * qualifier ids and values, as flush-worker.ts puts them, with the family and qualifier names in the header.
 * Returns the number of events.
 */
function dumpRows (buffer: EventBuffer, file: string): number {
  const fd = openSync(file, 'w')
  try {
    const magic = Buffer.alloc(4)
    magic.writeUInt32BE(ROWS_MAGIC)
    // The count comes last in the header and is written once the events are.
    const header = Buffer.concat([magic, ...bytes8(Buffer.from(FAMILY)), Buffer.from([QUALIFIERS.length]), ...QUALIFIERS.flatMap(q => bytes8(Buffer.from(q))), Buffer.alloc(4)])
    writeSync(fd, header)
    let events = 0
    for (let seq = buffer.next(0n); seq !== undefined; seq = buffer.next(seq)) {
      const batch = buffer.get(seq)
      if (batch === undefined) throw new Error(`batch ${seq} left the buffer while it was read`)
      const decoded = decodeBatch(batch)
      writeSync(fd, Buffer.concat(decoded.flatMap(eventParts)))
      events += decoded.length
    }
    const count = Buffer.alloc(4)
    count.writeUInt32BE(events)
    writeSync(fd, count, 0, 4, header.length - 4)
    return events
  } finally {
    closeSync(fd)
  }
}

/** Flushes the whole buffer with the real Flusher; resolves with the seconds from the first flush to the last acknowledgement. */
async function flushSpoor (buffer: EventBuffer, config: Config): Promise<number> {
  const batches = buffer.batchCount
  // Warnings (retries) and errors go to stderr, so that stdout stays one JSON line.
  const log = pino({ level: 'warn', base: { svc: 'spoor-bench-flush' } }, pino.destination(2))
  let acknowledged = 0
  let retried = 0
  let finish: () => void = () => {}
  let fail: (err: Error) => void = () => {}
  const finished = new Promise<void>((resolve, reject) => { finish = resolve; fail = reject })
  const flusher = new Flusher(buffer, config, SharedState.create(0), log, (outcome, _seconds, written) => {
    if (outcome === 'retried') retried++
    else if (outcome === 'dead-lettered') fail(new Error('HBase rejected a batch for good (dead-lettered); see stderr'))
    else if ((acknowledged += written) === batches) finish()
  })
  try {
    await sleep(POOL_START_MS)
    const started = process.hrtime.bigint()
    flusher.kick()
    // The Flusher retries for ever, as a collector should; a benchmark that stalls must end with the reason.
    const limitMs = Math.max(120_000, 2000 * batches)
    let timer: NodeJS.Timeout | undefined
    const stalled = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`spoor's flush did not finish within ${limitMs} ms: ${acknowledged} of ${batches} batches acknowledged, ${retried} attempts retried (see the warnings above)`)), limitMs)
    })
    try {
      await Promise.race([finished, stalled])
    } finally {
      clearTimeout(timer)
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    if (retried > 0) note(`spoor: ${retried} flush attempts were retried`)
    if (buffer.batchCount !== 0) throw new Error(`${buffer.batchCount} batches are still in the buffer after every batch was acknowledged`)
    return seconds
  } finally {
    await flusher.stop(1000 * config.shutdown.timeoutSeconds)
  }
}

interface JavaRun { rows: number, seconds: number, eventsPerSecond: number, writeBufferBytes: number }

/** Runs MutatorBench.java on the rows file; resolves with what it printed and the command, the classpath left as $HBASE_CLASSPATH. */
async function runJava (zkPort: number, userTable: string, timeTable: string, rowsFile: string, dataDir: string): Promise<JavaRun & { command: string }> {
  // Its own cache directory: mavenClasspath keeps one answer per directory and removes the others.
  const cacheDir = join(ROOT, '.spoor', 'bench-flush')
  mkdirSync(cacheDir, { recursive: true })
  const classpath = await mavenClasspath(join(HBASE_DIR, 'pom.xml'), cacheDir)
  const java = process.env.JAVA_HOME != null && process.env.JAVA_HOME !== '' ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java'
  const logFile = join(dataDir, 'mutator-bench.log')
  const args = (cp: string, source: string, log4j: string, log: string, rows: string): string[] => [
    '-Djava.net.preferIPv4Stack=true', ...JDK17_FLAGS,
    `-Dlog4j2.configurationFile=${log4j}`, `-Dspoor.log.file=${log}`,
    '-cp', cp, source, String(zkPort), userTable, timeTable, rows
  ]
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(java, args(classpath, join(ROOT, 'bench', 'java', 'MutatorBench.java'), join(HBASE_DIR, 'log4j2.properties'), logFile, rowsFile), { maxBuffer: 16 * 1024 * 1024 }, (err, out, errOut) => {
      if (err == null) resolve(out)
      else reject(new Error(`MutatorBench.java failed: ${err.message}\n${errOut.trim().split('\n').slice(-25).join('\n')}\n(its HBase client log: ${logFile})`))
    })
  })
  const run = JSON.parse(stdout.trim().split('\n').pop() as string) as JavaRun
  const command = shellLine([java, ...args('$HBASE_CLASSPATH', 'bench/java/MutatorBench.java', 'hbase/log4j2.properties', '$DATA_DIR/mutator-bench.log', '$DATA_DIR/rows.bin')])
  return { ...run, command }
}

export interface FlushBenchOptions {
  thriftPort: number
  zkPort: number
  events: number
  saltBuckets: number
  dataDir: string
  quietWaitMs?: number
  /** flush.workers and flush.in_flight; the config's defaults when left out. */
  workers?: number
  inFlight?: number
}

export async function flushBench (opts: FlushBenchOptions): Promise<FlushResult> {
  const { thriftPort, zkPort, events, saltBuckets, dataDir, quietWaitMs = QUIET_WAIT_MS } = opts
  if (!Number.isSafeInteger(events) || events < 1) throw new RangeError('opts.events must be a positive integer')
  const config = defaults()
  config.flush = { ...config.flush, workers: opts.workers ?? config.flush.workers, inFlight: opts.inFlight ?? config.flush.inFlight }
  config.dataDir = dataDir
  const stamp = `flushbench_${Date.now()}`
  config.hbase = { ...config.hbase, host: '127.0.0.1', port: thriftPort, saltBuckets, userTable: `${stamp}_spoor_user`, timeTable: `${stamp}_spoor_time` }
  const javaTables = { userTable: `${stamp}_java_user`, timeTable: `${stamp}_java_time` }
  await withClient(thriftPort, async client => {
    await ensureSchema(client, { userTable: config.hbase.userTable, timeTable: config.hbase.timeTable, saltBuckets })
    await ensureSchema(client, { ...javaTables, saltBuckets })
  })

  const rowsFile = join(dataDir, 'rows.bin')
  try {
    const buffer = new EventBuffer(dataDir)
    let spoorSeconds: number
    try {
      if (buffer.batchCount !== 0) throw new Error(`the buffer in ${dataDir} is not empty; give the benchmark a fresh directory`)
      const filled = await fill(buffer, config, events)
      const dumped = dumpRows(buffer, rowsFile)
      if (dumped !== events) throw new Error(`the buffer holds ${dumped} events, not ${events}`)
      note(`buffer: ${events} events in ${filled.batches} batches of ${Math.round(filled.bytes / filled.batches)} bytes on average`)
      await quiet('spoor', quietWaitMs)
      const cores = coreTicks()
      spoorSeconds = await flushSpoor(buffer, config)
      note(`spoor: ${spoorSeconds.toFixed(3)} s, machine ${busyPct(cores, coreTicks())}% busy while it ran`)
    } finally {
      await buffer.close()
    }
    const spoorRows = await countBoth(thriftPort, config.hbase.userTable, config.hbase.timeTable, events)

    await quiet('java', quietWaitMs)
    const cores = coreTicks()
    const java = await runJava(zkPort, javaTables.userTable, javaTables.timeTable, rowsFile, dataDir)
    note(`java: ${java.seconds} s timed, ${java.writeBufferBytes} bytes write buffer; machine ${busyPct(cores, coreTicks())}% busy while it ran (JVM start and loading included)`)
    if (java.rows !== events) throw new Error(`MutatorBench.java wrote ${java.rows} events, not ${events}`)
    const javaRows = await countBoth(thriftPort, javaTables.userTable, javaTables.timeTable, events)
    await checkSameRows(thriftPort, [[config.hbase.userTable, javaTables.userTable], [config.hbase.timeTable, javaTables.timeTable]])

    const spoorPerSecond = events / spoorSeconds
    return {
      events,
      spoor: {
        eventsPerSecond: Math.round(spoorPerSecond),
        seconds: Math.round(spoorSeconds * 1000) / 1000,
        workers: config.flush.workers,
        inFlight: config.flush.inFlight,
        ...spoorRows
      },
      java: { eventsPerSecond: java.eventsPerSecond, seconds: java.seconds, ...javaRows, command: java.command },
      ratio: Math.round(1000 * spoorPerSecond / (events / java.seconds)) / 1000
    }
  } finally {
    rmSync(rowsFile, { force: true })
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      'thrift-port': { type: 'string' },
      'zk-port': { type: 'string' },
      events: { type: 'string', default: '200000' },
      'salt-buckets': { type: 'string', default: String(defaults().hbase.saltBuckets) },
      workers: { type: 'string', default: String(defaults().flush.workers) },
      'in-flight': { type: 'string', default: String(defaults().flush.inFlight) }
    }
  })
  const port = (name: 'thrift-port' | 'zk-port'): number => {
    const n = Number(values[name])
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new RangeError(`--${name} must be a port from 1 to 65535`)
    return n
  }
  const events = Number(values.events)
  if (!Number.isSafeInteger(events) || events < 1) throw new RangeError('--events must be a positive integer')
  const saltBuckets = Number(values['salt-buckets'])
  if (!Number.isInteger(saltBuckets) || saltBuckets < 1 || saltBuckets > 256) throw new RangeError('--salt-buckets must be an integer from 1 to 256')
  const workers = Number(values.workers)
  const inFlight = Number(values['in-flight'])
  if (!Number.isInteger(workers) || workers < 1 || !Number.isInteger(inFlight) || inFlight < 1) throw new RangeError('--workers and --in-flight must be positive integers')
  const dataDir = mkdtempSync(join(tmpdir(), 'spoor-bench-flush-'))
  try {
    console.log(JSON.stringify(await flushBench({ thriftPort: port('thrift-port'), zkPort: port('zk-port'), events, saltBuckets, dataDir, workers, inFlight })))
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (require.main === module) {
  main().catch(err => {
    console.error(err)
    process.exit(1)
  })
}
