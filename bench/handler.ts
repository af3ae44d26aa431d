// In-process timing of spoor's pixel handler and its one encode call, with the real encoder, batcher and buffer but no HTTP.
//
// Usage: node dist/bench/handler.js [--calls N] [--json]
// The HTTP benchmark (run.ts) measures the whole server; this isolates what spoor adds per request, call by call,
// so that a slow tail in the handler shows even when throughput hides it. bench/run.ts runs it pinned to one core.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import { Batcher } from '../daemon/pipeline/batcher'
import { EventBuffer } from '../daemon/pipeline/buffer'
import { parseTrustedProxies } from '../daemon/http/client-ip'
import { defaults } from '../daemon/config'
import { Encoder, encoderOptions } from '../daemon/native'
import { handlers } from '../daemon/http/server'
import { SharedState } from '../daemon/pipeline/shared-state'
import { COOKIE, QUERY, REFERER, USER_AGENT } from './request'

/** Calls between yields to the event loop: about 5 ms of work, one batch interval, so batches are sealed on their timer as in production. */
export const YIELD_EVERY = 1000

export interface Percentiles {
  p50: number
  p90: number
  p99: number
  'p99.9': number
  max: number
  mean: number
}

export interface HandlerResult {
  calls: number
  warmupCalls: number
  yieldEvery: number
  /** Time of one handler call, in µs. */
  latencyUs: Percentiles
  /** Two back-to-back hrtime reads with nothing between: the floor every figure above includes. */
  timerFloorUs: Percentiles
  /** Wall time of the timed calls, yields and seals included, divided by the calls. */
  wallUsPerCall: number
  eventsAccepted: number
  batchesBuffered: number
  rejected: Record<string, number>
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000

function percentilesUs (h: RecordableHistogram): Percentiles {
  const us = (ns: number): number => round3(ns / 1000)
  return { p50: us(h.percentile(50)), p90: us(h.percentile(90)), p99: us(h.percentile(99)), 'p99.9': us(h.percentile(99.9)), max: us(h.max), mean: us(h.mean) }
}

export async function runHandlerBench (calls = 1_000_000, warmupCalls = 100_000): Promise<HandlerResult> {
  const config = defaults()
  config.dataDir = mkdtempSync(join(tmpdir(), 'spoor-bench-handler-'))
  const state = SharedState.create(1)
  const buffer = new EventBuffer(config.dataDir)
  const encoder = new Encoder(encoderOptions(config))
  // No flusher: the batches pile up in the temporary buffer, which is removed at the end.
  const batcher = new Batcher(encoder, async batch => { await buffer.append(batch) })
  const { pixel } = handlers({ config, encoder, batcher, state, counters: state.thread(0), trusted: parseTrustedProxies([]) })

  const ip = new Uint8Array([203, 0, 113, 7]).buffer
  const res = {
    getRemoteAddress: () => ip,
    writeStatus: () => res,
    writeHeader: () => res,
    end: () => res
  } as unknown as HttpResponse
  const req = {
    getQuery: () => QUERY,
    getHeader: (name: string) => name === 'user-agent' ? USER_AGENT : name === 'referer' ? REFERER : name === 'cookie' ? COOKIE : ''
  } as unknown as HttpRequest

  batcher.start(config.batch.intervalMs)
  try {
    for (let i = 1; i <= warmupCalls; i++) {
      pixel(res, req)
      if (i % YIELD_EVERY === 0) await nextTurn()
    }

    const floor = createHistogram()
    for (let i = 0; i < 100_000; i++) {
      const t0 = process.hrtime.bigint()
      floor.record(Number(process.hrtime.bigint() - t0) || 1)
    }

    const accepted = state.eventsAccepted
    const h = createHistogram()
    const start = process.hrtime.bigint()
    for (let i = 1; i <= calls; i++) {
      const t0 = process.hrtime.bigint()
      pixel(res, req)
      h.record(Number(process.hrtime.bigint() - t0) || 1)
      if (i % YIELD_EVERY === 0) await nextTurn()
    }
    const wallNs = Number(process.hrtime.bigint() - start)

    return {
      calls,
      warmupCalls,
      yieldEvery: YIELD_EVERY,
      latencyUs: percentilesUs(h),
      timerFloorUs: percentilesUs(floor),
      wallUsPerCall: round3(wallNs / calls / 1000),
      eventsAccepted: state.eventsAccepted - accepted,
      batchesBuffered: buffer.batchCount,
      rejected: state.rejected()
    }
  } finally {
    await batcher.stop()
    await buffer.close()
    rmSync(config.dataDir, { recursive: true, force: true })
  }
}

async function main (): Promise<void> {
  const callsArg = process.argv.indexOf('--calls')
  const calls = callsArg === -1 ? 1_000_000 : Number(process.argv[callsArg + 1])
  if (!Number.isSafeInteger(calls) || calls < 1) throw new RangeError('--calls must be a positive integer')
  const result = await runHandlerBench(calls)
  if (result.eventsAccepted !== calls) throw new Error(`only ${result.eventsAccepted} of ${calls} calls were accepted: ${JSON.stringify(result.rejected)}`)
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result))
    return
  }
  const l = result.latencyUs
  const f = result.timerFloorUs
  console.log(`pixel handler + encode, ${calls} calls after ${result.warmupCalls} warm-up, yielding every ${result.yieldEvery}`)
  console.log(`  p50 ${l.p50} µs  p90 ${l.p90} µs  p99 ${l.p99} µs  p99.9 ${l['p99.9']} µs  max ${l.max} µs  mean ${l.mean} µs`)
  console.log(`  timer floor p50 ${f.p50} µs; wall ${result.wallUsPerCall} µs per call; ${result.batchesBuffered} batches buffered`)
  console.log(`  target p99 < 20 µs: ${l.p99 < 20 ? 'met' : 'MISSED'}`)
}

if (require.main === module) {
  main().catch(err => {
    console.error(err)
    process.exit(1)
  })
}
