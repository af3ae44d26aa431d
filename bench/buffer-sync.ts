// What syncing each buffer commit costs: CPU and latency per committed batch for each buffer.sync setting, and for the LMDB calls spoor made before waiting for `flushed`.
//
// Usage: node dist/bench/buffer-sync.js [--batches N] [--rounds R] [--bytes B] [--in-flight K] [--dir DIR]
//   default 1000 batches of 16 KiB per run, 3 rounds, 8 appends in flight in the concurrent runs, in .spoor/bench-sync
//   (the file system the buffer is on by default). Prints a Markdown table, then one JSON line.
// Each round runs every variant once, in rotating order, on a fresh environment, first one batch at a time (the wait
// a POST sees), then with K appends in flight (as K concurrent POSTs, whose commits lmdb-js groups). CPU is the
// process's user + system time (LMDB's write thread included) over the run, divided by the batches.

import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { open } from 'lmdb'
import { EventBuffer } from '../daemon/pipeline/buffer'

interface Appender {
  append: (batch: Buffer) => Promise<unknown>
  close: () => Promise<void>
}

interface Variant {
  name: string
  what: string
  open: (dir: string) => Appender
}

/** lmdb-js as the buffer opens it, and the buffer's put, without the buffer around it. */
function rawLmdb (dir: string, options: Record<string, unknown>): Appender {
  const root = open({ path: dir, maxDbs: 4, ...options })
  const db = root.openDB<Buffer, Buffer>({ name: 'batches', keyEncoding: 'binary', encoding: 'binary' })
  let seq = 0n
  return {
    append: async batch => {
      const key = Buffer.allocUnsafe(8)
      key.writeBigUInt64BE(++seq)
      return await db.put(key, batch)
    },
    close: async () => { await root.close() }
  }
}

function buffer (dir: string, sync: 'always' | 'never'): Appender {
  const b = new EventBuffer(dir, { sync })
  return { append: async batch => await b.append(batch), close: async () => { await b.close() } }
}

const VARIANTS: Variant[] = [
  { name: 'always', what: 'buffer.sync = "always" (the default): lmdb-js overlappingSync, the put, then `flushed`', open: dir => buffer(dir, 'always') },
  { name: 'put-only', what: 'spoor before: lmdb-js overlappingSync, the put alone', open: dir => rawLmdb(dir, {}) },
  { name: 'sync-in-commit', what: 'lmdb-js without overlappingSync: LMDB\'s own fdatasync inside the commit', open: dir => rawLmdb(dir, { overlappingSync: false }) },
  { name: 'never', what: 'buffer.sync = "never": lmdb-js noSync, no fdatasync at all', open: dir => buffer(dir, 'never') }
]

interface Run {
  variant: string
  mode: 'one at a time' | 'in flight'
  batches: number
  cpuUsPerBatch: number
  wallUsPerBatch: number
  latencyUs: { p50: number, p99: number }
}

function quantile (sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

async function measure (variant: Variant, dir: string, batches: number, inFlight: number, payload: Buffer): Promise<Run> {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const appender = variant.open(dir)
  try {
    // Warm-up: the map grown and the code compiled.
    for (let i = 0; i < 100; i++) await appender.append(payload)
    const latencies: number[] = []
    const cpu = process.cpuUsage()
    const started = process.hrtime.bigint()
    let next = 0
    async function worker (): Promise<void> {
      while (next < batches) {
        next++
        const t0 = process.hrtime.bigint()
        await appender.append(payload)
        latencies.push(Number(process.hrtime.bigint() - t0) / 1000)
      }
    }
    await Promise.all(Array.from({ length: inFlight }, worker))
    const wallUs = Number(process.hrtime.bigint() - started) / 1000
    const used = process.cpuUsage(cpu)
    latencies.sort((a, b) => a - b)
    return {
      variant: variant.name,
      mode: inFlight === 1 ? 'one at a time' : 'in flight',
      batches,
      cpuUsPerBatch: (used.user + used.system) / batches,
      wallUsPerBatch: wallUs / batches,
      latencyUs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) }
    }
  } finally {
    await appender.close()
  }
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const fmt = (x: number): string => x >= 100 ? x.toFixed(0) : x.toFixed(1)
const spread = (xs: number[]): string => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      batches: { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '3' },
      bytes: { type: 'string', default: String(16 * 1024) },
      'in-flight': { type: 'string', default: '8' },
      dir: { type: 'string', default: resolve(__dirname, '..', '..', '.spoor', 'bench-sync') }
    }
  })
  const batches = Number(values.batches)
  const rounds = Number(values.rounds)
  const inFlight = Number(values['in-flight'])
  const payload = randomBytes(Number(values.bytes))
  const runs: Run[] = []
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < VARIANTS.length; i++) {
      const variant = VARIANTS[(i + round) % VARIANTS.length]
      for (const k of [1, inFlight]) {
        const run = await measure(variant, join(values.dir, variant.name), batches, k, payload)
        runs.push(run)
        process.stderr.write(`round ${round + 1} ${variant.name} ${run.mode}: ${fmt(run.cpuUsPerBatch)} µs CPU, ${fmt(run.wallUsPerBatch)} µs wall, p50 ${fmt(run.latencyUs.p50)} µs per batch\n`)
      }
    }
  }
  rmSync(values.dir, { recursive: true, force: true })

  const command = `node dist/bench/buffer-sync.js --batches ${batches} --rounds ${rounds} --bytes ${payload.length} --in-flight ${inFlight}`
  console.log(`${command}: median (min–max) of ${rounds} rounds, ${batches} batches of ${payload.length} bytes per run\n`)
  console.log('| setting | appends | CPU µs per batch | wall µs per batch | latency p50 µs | latency p99 µs |')
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const variant of VARIANTS) {
    for (const mode of ['one at a time', 'in flight'] as const) {
      const mine = runs.filter(r => r.variant === variant.name && r.mode === mode)
      const label = mode === 'in flight' ? `${inFlight} in flight` : mode
      console.log(`| ${variant.name} | ${label} | ${spread(mine.map(r => r.cpuUsPerBatch))} | ${spread(mine.map(r => r.wallUsPerBatch))} | ${spread(mine.map(r => r.latencyUs.p50))} | ${spread(mine.map(r => r.latencyUs.p99))} |`)
    }
  }
  console.log('')
  for (const variant of VARIANTS) console.log(`- ${variant.name}: ${variant.what}`)
  console.log(JSON.stringify({ command, runs }))
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
