// Events per second through the native encoder and the LMDB buffer, the encode call alone, the GeoIP lookup in it, and the cost of one napi call.
//
// Usage: node dist/bench/buffer.js [--events N]     (default 200000; prints one JSON line)
// No HTTP and no HBase: the bench request (request.ts) is encoded by the real Encoder, sealed by the real Batcher
// and appended to a real EventBuffer in a temporary directory, with the default config, as a serving thread does.
// bench/flush.ts fills its buffer with `fill` from here.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Batcher } from '../daemon/pipeline/batcher'
import { EventBuffer } from '../daemon/pipeline/buffer'
import { defaults, type Config } from '../daemon/config'
import { BATCH_FULL, Encoder, encoderOptions } from '../daemon/native'
import { COOKIE, QUERY, REFERER, USER_AGENT } from './request'

export interface BufferResult {
  events: number
  /** From the first encode until the LMDB commit of the last batch resolved. */
  eventsPerSecond: number
  batches: number
  /** Batch bytes (header and records) per event: what the buffer stores and the flush reads. */
  bytesPerEvent: number
  /** One call into the addon, the `pending` getter: napi's crossing and nothing else. */
  napiCallNs: { p50: number, p99: number, mean: number }
  /** One `Encoder.pixel` call, Date.now() for its argument included, without taking the batch or LMDB. */
  encodeNsPerEvent: number
  /**
   * What GeoIP adds to one encode call: the call from 4096 public addresses in turn with the shipped database (more
   * than its per-encoder cache holds, so mostly lookups), less the same without GeoIP; and with 64 addresses in turn,
   * which the cache answers, as for returning visitors (median of 3 interleaved rounds each).
   */
  geoip: { onNs: number, offNs: number, addedNs: number, cachedNs: number, cachedAddedNs: number }
  command: string
}

export interface Fill {
  events: number
  batches: number
  bytes: number
  seconds: number
}

/**
 * Encode calls between yields to the event loop, about one batch interval of work, as in bench/handler.ts: the
 * batcher's timer and LMDB's commit callbacks run between them, as they do between a server's requests.
 */
const YIELD_EVERY = 1000

/** Encode calls before any timing, so that the encode path is compiled and the encoder's buffers have grown. */
const WARMUP_EVENTS = 20_000

/** Calls per napi sample: enough that the two hrtime reads around them (about 50 ns) weigh under 0.01 ns per call. */
const NAPI_CALLS_PER_SAMPLE = 10_000
const NAPI_SAMPLES = 1000

const IP = new Uint8Array([203, 0, 113, 7]).buffer

/** Public IPv4 addresses spread over the space, so that lookups walk different parts of the database. */
const PUBLIC_IPS: ArrayBuffer[] = Array.from({ length: 4096 }, (_, i) => {
  const a = 1 + ((i * 97) % 223)
  return new Uint8Array([a === 10 || a === 127 ? a + 1 : a, (i * 31) & 255, (i * 7) & 255, 1 + (i & 127)]).buffer
})

function encodeOne (encoder: Encoder, uidOut: Buffer, ip: ArrayBuffer = IP): number {
  const r = encoder.pixel(QUERY, USER_AGENT, REFERER, COOKIE, ip, Date.now(), uidOut)
  if (r < 0) throw new Error(`the encoder refused the bench request with error ${r}`)
  return r
}

/**
 * Encodes `events` bench requests into `buffer` through a Batcher on the config's batch interval and size, and
 * resolves once every batch is committed. The encoder mints a random event id for each, so no two rows collide.
 */
export async function fill (buffer: EventBuffer, config: Config, events: number): Promise<Fill> {
  const encoder = new Encoder(encoderOptions(config))
  const uidOut = Buffer.alloc(32)
  let batches = 0
  let bytes = 0
  const batcher = new Batcher(encoder, async batch => {
    batches++
    bytes += batch.length
    await buffer.append(batch)
  })
  const started = process.hrtime.bigint()
  batcher.start(config.batch.intervalMs)
  try {
    for (let i = 1; i <= events; i++) {
      // The server seals a full batch on its next turn; this loop yields only every YIELD_EVERY calls, so it seals at once.
      if ((encodeOne(encoder, uidOut) & BATCH_FULL) !== 0) batcher.seal()
      if (i % YIELD_EVERY === 0) await nextTurn()
    }
  } finally {
    await batcher.stop()
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { events, batches, bytes, seconds }
}

/** ns per call of the cheapest addon call, timed NAPI_CALLS_PER_SAMPLE calls at a time. */
function napiCallNs (encoder: Encoder): BufferResult['napiCallNs'] {
  // `pending` takes no arguments and returns a small integer: all it costs is the crossing into the addon and back.
  let sink = 0
  const samples: number[] = []
  for (let s = 0; s < NAPI_SAMPLES + NAPI_SAMPLES / 10; s++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < NAPI_CALLS_PER_SAMPLE; i++) sink += encoder.pending
    const ns = Number(process.hrtime.bigint() - t0) / NAPI_CALLS_PER_SAMPLE
    // The first tenth warms the loop up.
    if (s >= NAPI_SAMPLES / 10) samples.push(ns)
  }
  // Reading the sum keeps the loop from being optimised away; an empty encoder has nothing pending.
  if (sink !== 0) throw new Error(`an empty encoder reported ${sink} pending events`)
  samples.sort((a, b) => a - b)
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]
  return { p50: round2(at(0.5)), p99: round2(at(0.99)), mean: round2(samples.reduce((a, b) => a + b, 0) / samples.length) }
}

/**
 * ns per `pixel` call, timed from one batch taken to the next; taking a batch, which hand the batch to JS, are not timed. With
 * `ips`, the calls take their addresses in turn.
 */
function encodeNsPerEvent (config: Config, events: number, ips?: ArrayBuffer[]): number {
  const encoder = new Encoder(encoderOptions(config))
  const uidOut = Buffer.alloc(32)
  let ns = 0n
  let done = 0
  while (done < events) {
    const t0 = process.hrtime.bigint()
    while (done < events) {
      done++
      if ((encodeOne(encoder, uidOut, ips?.[done % ips.length]) & BATCH_FULL) !== 0) break
    }
    ns += process.hrtime.bigint() - t0
    encoder.takeBatch()
  }
  return Number(ns) / events
}

function geoipNs (config: Config, events: number): BufferResult['geoip'] {
  const off: Config = { ...config, geoip: { ...config.geoip, enabled: false } }
  const on: Config = { ...config, geoip: { ...config.geoip, enabled: true } }
  encodeNsPerEvent(on, WARMUP_EVENTS, PUBLIC_IPS)
  const returning = PUBLIC_IPS.slice(0, 64)
  const runs: { on: number[], off: number[], cached: number[] } = { on: [], off: [], cached: [] }
  for (let round = 0; round < 3; round++) {
    runs.on.push(encodeNsPerEvent(on, events, PUBLIC_IPS))
    runs.off.push(encodeNsPerEvent(off, events, PUBLIC_IPS))
    runs.cached.push(encodeNsPerEvent(on, events, returning))
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[1]
  const [onNs, offNs, cachedNs] = [median(runs.on), median(runs.off), median(runs.cached)]
  return { onNs: round2(onNs), offNs: round2(offNs), addedNs: round2(onNs - offNs), cachedNs: round2(cachedNs), cachedAddedNs: round2(cachedNs - offNs) }
}

function round2 (n: number): number {
  return Math.round(n * 100) / 100
}

export async function bufferBench (opts: { events: number, dataDir: string }): Promise<BufferResult> {
  const { events, dataDir } = opts
  if (!Number.isSafeInteger(events) || events < 1) throw new RangeError('opts.events must be a positive integer')
  const config = defaults()
  config.dataDir = dataDir

  const napi = napiCallNs(new Encoder(encoderOptions(config)))
  encodeNsPerEvent(config, WARMUP_EVENTS)
  const encodeNs = encodeNsPerEvent(config, events)
  const geoip = geoipNs(config, events)

  const buffer = new EventBuffer(dataDir)
  let filled: Fill
  try {
    if (buffer.batchCount !== 0) throw new Error(`the buffer in ${dataDir} is not empty; give the benchmark a fresh directory`)
    filled = await fill(buffer, config, events)
  } finally {
    await buffer.close()
  }
  return {
    events,
    eventsPerSecond: Math.round(events / filled.seconds),
    batches: filled.batches,
    bytesPerEvent: Math.round(10 * filled.bytes / events) / 10,
    napiCallNs: napi,
    encodeNsPerEvent: round2(encodeNs),
    geoip,
    command: `node dist/bench/buffer.js --events ${events}`
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '200000' } } })
  const events = Number(values.events)
  if (!Number.isSafeInteger(events) || events < 1) throw new RangeError('--events must be a positive integer')
  const dataDir = mkdtempSync(join(tmpdir(), 'spoor-bench-buffer-'))
  try {
    console.log(JSON.stringify(await bufferBench({ events, dataDir })))
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
