// The recommendation server's speed: /recommend's latency on one core with MovieLens 100K's 1,682 items and with
// 100,000 synthetic items, and how soon a published signal changes its user's answer (publish → answer).
//
// Usage: node dist/bench/recommend.js --hbase-port P [--amqp-url URL] [--seconds S] [--probes N] [--out DIR]
//   An HBase Thrift2 gateway on 127.0.0.1:P (the suite's, or `spoor hbase start`'s) and a RabbitMQ (default the one
//   `spoor rabbitmq start` runs, amqp://127.0.0.1:5672). It writes a synthetic generation of each size (random
//   factors, rank 10, 20 preferences per user), starts `spoor recommend serve` pinned to core 0, and loads it with wrk
//   pinned to core 1 (4 connections, one user each request, n = 10). Then it publishes N signals, each for a user the
//   model has never seen, and polls that user's /recommend every millisecond until the answer comes from the model.
//   Each size is loaded twice: once as served, once while a copy of its generation is built and swapped in.
//   Prints a Markdown table and writes it, with the JSON, to DIR (default bench/results/) as <date>-<host>-recommend.

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { HBaseClient } from '../daemon/hbase/client'
import { ensureSignalsTable } from '../daemon/hbase/schema'
import { SignalPublisher } from '../daemon/recommend/publisher'
import { GENERATION_FORMAT } from '../daemon/recommend/train'
import type { Percentiles } from './handler'
import { generator } from '../daemon/reports/demo-data'
import { ROOT, runWrk, type LoadResult } from './load'
import { processTicks, CLK_TCK } from './proc'
import { rssOf } from './servers'

const RANK = 10
const PREFS_PER_USER = 20

interface Size { name: string, items: number, users: number }

const SIZES: Size[] = [
  { name: 'MovieLens 100K shape', items: 1682, users: 943 },
  { name: '100k items', items: 100000, users: 10000 }
]

/** A generation directory as Train.java writes one, with random factors and preferences. */
function writeGeneration (modelsDir: string, size: Size, lastSignalTs: number): string {
  const rand = generator(size.items)
  const name = new Date().toISOString().replace(/[-:]/g, '').replace('.', '')
  const dir = join(modelsDir, name)
  mkdirSync(dir, { recursive: true })
  const factors = (rows: number): Buffer => {
    const f = new Float32Array(rows * RANK)
    for (let i = 0; i < f.length; i++) f[i] = (rand() - 0.5) * 0.6
    return Buffer.from(f.buffer)
  }
  const users = Array.from({ length: size.users }, (_, u) => `l:user-${u}`)
  const items = Array.from({ length: size.items }, (_, i) => `item-${String(i).padStart(6, '0')}`)
  const strengths = Buffer.alloc(size.users * PREFS_PER_USER * 12)
  let o = 0
  for (let u = 0; u < size.users; u++) {
    const chosen = new Set<number>()
    while (chosen.size < PREFS_PER_USER) chosen.add(Math.floor(rand() * size.items))
    for (const i of [...chosen].sort((a, b) => a - b)) {
      strengths.writeUInt32LE(u, o)
      strengths.writeUInt32LE(i, o + 4)
      strengths.writeFloatLE(1 + Math.floor(rand() * 8), o + 8)
      o += 12
    }
  }
  const meta = {
    format: GENERATION_FORMAT, generation: name, trainedAt: new Date().toISOString(), rank: RANK, iterations: 10, regParam: 0.1, alpha: 1,
    weights: { view: 1, like: 3, answer: 5, best: 8 }, trackWeight: 0.5, history: { from: 0, to: lastSignalTs }, users: size.users, items: size.items,
    signals: size.users * PREFS_PER_USER, trackedEvents: 0, lastSignalTs, identityRead: 'none', popularTop: 100
  }
  writeFileSync(join(dir, 'users.json'), JSON.stringify(users))
  writeFileSync(join(dir, 'items.json'), JSON.stringify(items))
  writeFileSync(join(dir, 'user-factors.f32'), factors(size.users))
  writeFileSync(join(dir, 'item-factors.f32'), factors(size.items))
  writeFileSync(join(dir, 'strengths.bin'), strengths)
  writeFileSync(join(dir, 'popular.json'), JSON.stringify([{ channel: null, country: null, items: items.slice(0, 100), people: items.slice(0, 100).map((_, i) => 100 - i) }]))
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta))
  return name
}

interface Server { port: number, pid: number, stop: () => Promise<void>, logs: Array<Record<string, any>> }

async function startServer (configPath: string): Promise<Server> {
  const child = spawn('taskset', ['-c', '0', process.execPath, join(ROOT, 'dist', 'daemon', 'cli.js'), 'recommend', 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'inherit'] })
  const logs: Array<Record<string, any>> = []
  let served: (l: Record<string, any>) => void = () => {}
  const ready = new Promise<Record<string, any>>(resolve => { served = resolve })
  createInterface({ input: child.stdout! }).on('line', line => {
    try {
      const l = JSON.parse(line) as Record<string, any>
      logs.push(l)
      if (l.msg === 'recommendations served') served(l)
    } catch {}
  })
  const exited = once(child, 'exit')
  const first = await Promise.race([ready, exited.then(() => undefined)])
  if (first === undefined) throw new Error(`spoor recommend serve exited: ${JSON.stringify(logs.slice(-3))}`)
  return {
    port: first.port as number,
    pid: child.pid!,
    logs,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    }
  }
}

interface SizeResult {
  size: Size
  loadMs: number
  /** The generation's files read and its native model built, off the event loop. */
  buildMs: number
  /** A run during which a new generation was built and swapped in. */
  swap: LoadResult
  swapBuildMs: number
  wrk: LoadResult
  cpuUsPerRequest: number
  rssMiB: number
}

interface Result {
  date: string
  host: string
  command: string
  sizes: SizeResult[]
  publishToAnswerMs: Percentiles
  probes: number
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      'hbase-port': { type: 'string' },
      'amqp-url': { type: 'string', default: 'amqp://127.0.0.1:5672' },
      seconds: { type: 'string', default: '10' },
      probes: { type: 'string', default: '200' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') }
    }
  })
  if (values['hbase-port'] === undefined) throw new Error('--hbase-port P: the Thrift2 port of a running HBase')
  const hbasePort = Number(values['hbase-port'])
  const seconds = Number(values.seconds)
  const probes = Number(values.probes)
  const stamp = `bench_${process.pid}`
  // One table for every run, created once (its signals stay, dated in the past, and each run's generation is newer).
  const signalsTable = 'spoor_bench_signals'
  const hbase = await HBaseClient.connect({ host: '127.0.0.1', port: hbasePort })
  await ensureSignalsTable(hbase, signalsTable, 4)
  const work = mkdtempSync(join(tmpdir(), 'spoor-bench-recommend-'))
  const recommend = {
    amqp_url: values['amqp-url'], exchange: `${stamp}.signals`, queue: `${stamp}.store`, dead_letter_exchange: `${stamp}.dead`, dead_letter_queue: `${stamp}.dead`,
    signals_table: signalsTable, serve_port: 0, reload_ms: 1000
  }
  const sizes: SizeResult[] = []
  let publishToAnswer: number[] = []
  try {
    for (const size of SIZES) {
      const dataDir = join(work, size.name.replace(/\W+/g, '-'))
      const models = join(dataDir, 'models')
      const name = writeGeneration(models, size, Date.now())
      const configPath = join(dataDir, 'spoor.toml')
      writeFileSync(configPath, [
        `data_dir = ${JSON.stringify(dataDir)}`,
        '[log]', 'level = "info"',
        '[hbase]', `port = ${hbasePort}`, 'salt_buckets = 4',
        '[recommend]', ...Object.entries(recommend).map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
      ].join('\n') + '\n')
      const started = Date.now()
      const server = await startServer(configPath)
      const loadMs = Date.now() - started
      try {
        const path = '/recommend/user-7?n=10'
        const check = await fetch(`http://127.0.0.1:${server.port}${path}`)
        const body = await check.json() as { path: string, items: unknown[] }
        if (check.status !== 200 || body.path !== 'model' || body.items.length !== 10) throw new Error(`the server answered ${check.status} ${JSON.stringify(body).slice(0, 200)}`)
        // Warm up, then measure.
        await runWrk(server.port, { name: 'recommend', method: 'GET', path, headers: {}, eventsPerRequest: 1 }, 2, '1', undefined, 4)
        const ticks = processTicks(server.pid)
        const wrk = await runWrk(server.port, { name: 'recommend', method: 'GET', path, headers: {}, eventsPerRequest: 1 }, seconds, '1', undefined, 4)
        const cpuUsPerRequest = (processTicks(server.pid) - ticks) / CLK_TCK * 1e6 / wrk.requests
        const buildMs = server.logs.find(l => l.msg === 'model generation served')?.buildMs as number
        // The same load while a copy of the generation, under a newer name, is built and swapped in.
        const copy = name.replace(/\d{3}Z$/, m => String(Number(m.slice(0, 3)) + 1).padStart(3, '0') + 'Z')
        const swapping = runWrk(server.port, { name: 'recommend', method: 'GET', path, headers: {}, eventsPerRequest: 1 }, seconds, '1', undefined, 4)
        await new Promise(resolve => setTimeout(resolve, 1000))
        cpSync(join(models, name), join(models, copy), { recursive: true })
        const swap = await swapping
        const swapped = server.logs.find(l => l.msg === 'model generation served' && l.generation === copy)
        if (swapped === undefined) throw new Error(`the copy ${copy} was not swapped in during the run`)
        sizes.push({ size, loadMs, buildMs, swap, swapBuildMs: swapped.buildMs as number, wrk, cpuUsPerRequest, rssMiB: rssOf(server.pid) / 1048576 })

        if (size === SIZES[0]) publishToAnswer = await probe(server.port, recommend.amqp_url, recommend.exchange, probes)
      } finally {
        await server.stop()
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
    await hbase.close()
  }
  const date = new Date().toISOString().slice(0, 10)
  const result: Result = {
    date,
    host: hostname(),
    command: `node dist/bench/recommend.js --hbase-port ${hbasePort} --amqp-url ${values['amqp-url']!} --seconds ${seconds} --probes ${probes}`,
    sizes,
    publishToAnswerMs: percentiles(publishToAnswer),
    probes
  }
  const md = markdown(result)
  console.log(md)
  mkdirSync(values.out!, { recursive: true })
  const base = join(values.out!, `${date}-vm-recommend`)
  writeFileSync(`${base}.md`, md)
  writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n')
}

function percentiles (values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)]
  return { p50: at(50), p90: at(90), p99: at(99), 'p99.9': at(99.9), max: sorted[sorted.length - 1], mean: sorted.reduce((a, b) => a + b, 0) / sorted.length }
}

/**
 * Publishes one signal at a time, for a user the model has never seen, and polls their /recommend every millisecond
 * until the answer comes from the model: the time from the publish to that answer, in ms.
 */
async function probe (port: number, url: string, exchange: string, n: number): Promise<number[]> {
  const publisher = await SignalPublisher.connect({ url, topology: { exchange, queue: `${exchange}.unused`, deadLetterExchange: `${exchange}.dead`, deadLetterQueue: `${exchange}.dead` }, declareQueues: false })
  const times: number[] = []
  try {
    for (let i = 0; i < n; i++) {
      const user = `probe-${process.pid}-${i}`
      const started = performance.now()
      await publisher.publish({ user, item: 'item-000042', kind: 'like', ts: Date.now(), id: `p-${i}` })
      for (;;) {
        const r = await fetch(`http://127.0.0.1:${port}/recommend/${user}?n=1`)
        if (((await r.json()) as { path: string }).path === 'model') break
        if (performance.now() - started > 10000) throw new Error(`${user}'s signal was not folded in within 10 s`)
        await new Promise(resolve => setTimeout(resolve, 1))
      }
      times.push(performance.now() - started)
    }
  } finally {
    await publisher.close()
  }
  return times
}

function markdown (r: Result): string {
  const ms = (us: number): string => (us / 1000).toFixed(2)
  const lines = [
    `# spoor recommend serve, ${r.date}, ${r.host}`,
    '',
    `\`${r.command}\`: a synthetic generation of each size (rank ${RANK}, ${PREFS_PER_USER} preferences per user), the server on core 0, wrk on core 1 with 4 connections asking \`/recommend/user-7?n=10\`.`,
    '',
    '| generation | start to serving | build (off the event loop) | req/s | p50 ms | p99 ms | p99.9 ms | max ms | CPU µs per request | RSS MiB | during a swap: p99 / max ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.sizes.map(s => `| ${s.size.name}: ${s.size.items.toLocaleString('en')} items, ${s.size.users.toLocaleString('en')} users | ${(s.loadMs / 1000).toFixed(1)} s | ${s.buildMs.toFixed(1)} ms | ${s.wrk.requestsPerSecond.toLocaleString('en')} | ${ms(s.wrk.latencyUs.p50)} | ${ms(s.wrk.latencyUs.p99)} | ${ms(s.wrk.latencyUs['p99.9'])} | ${ms(s.wrk.latencyUs.max)} | ${s.cpuUsPerRequest.toFixed(0)} | ${s.rssMiB.toFixed(0)} | ${ms(s.swap.latencyUs.p99)} / ${ms(s.swap.latencyUs.max)} (build ${s.swapBuildMs.toFixed(0)} ms) |`),
    '',
    `Publish → answer over ${r.probes} signals (${SIZES[0].name}; each a new user's first signal, published with confirms, then /recommend polled every ms): p50 ${r.publishToAnswerMs.p50.toFixed(1)} ms, p90 ${r.publishToAnswerMs.p90.toFixed(1)} ms, p99 ${r.publishToAnswerMs.p99.toFixed(1)} ms, max ${r.publishToAnswerMs.max.toFixed(1)} ms.`,
    ''
  ]
  return lines.join('\n')
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
