// End-to-end lag: the time from a pixel request to its row being readable in HBase, while spoor carries a steady
// background load that the flush keeps up with.
//
// A probe is a pixel with a uid of its own. The bench sends it, then scans the by-user table for that uid's prefix
// every POLL_MS until the row is there. Probes go one after another for the whole run, beside autocannon's paced load.

import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { HBaseClient } from '../daemon/hbase/client'
import { scanPrefix } from '../daemon/hbase/reader'
import { userRowPrefix } from '../daemon/native'
import { PIXEL, runAutocannon, type LoadResult } from './load'
import type { HBaseTarget, RunningSpoor } from './servers'

/** How often a probe's row is looked for; it bounds how much later than its arrival a row can be seen. */
export const POLL_MS = 5
/** A probe not seen in HBase by then is a failure of the pipeline, not a slow sample. */
const PROBE_TIMEOUT_MS = 60000

export interface LagResult {
  seconds: number
  pollMs: number
  probes: number
  /** Time from sending the probe until its row was read back, in ms. */
  lagMs: { p50: number, p90: number, p99: number, max: number, mean: number }
  /** The paced background load beside the probes. */
  background: LoadResult & { rate: number }
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p / 100) - 1)]
}

async function probe (spoor: RunningSpoor, client: HBaseClient, target: HBaseTarget): Promise<number> {
  const uid = randomBytes(16).toString('hex')
  const prefix = userRowPrefix(uid, target.saltBuckets)
  const sent = performance.now()
  const res = await fetch(`http://127.0.0.1:${spoor.port}/p.gif?uid=${uid}&a=lag-probe`)
  await res.arrayBuffer()
  if (res.status !== 200) throw new Error(`a lag probe was answered ${res.status}`)
  for (;;) {
    if ((await scanPrefix(client, target.userTable, prefix, 1)).length > 0) return performance.now() - sent
    if (performance.now() - sent > PROBE_TIMEOUT_MS) throw new Error(`a lag probe (uid ${uid}) was not in HBase after ${PROBE_TIMEOUT_MS} ms`)
    await sleep(POLL_MS)
  }
}

/** Probes for `seconds` while autocannon, on `loadCpus`, sends `rate` pixels per second. */
export async function measureLag (spoor: RunningSpoor, client: HBaseClient, target: HBaseTarget, seconds: number, rate: number, loadCpus: string): Promise<LagResult> {
  const background = runAutocannon(spoor.port, PIXEL, seconds, loadCpus, undefined, { rate, connections: 8 })
  const lags: number[] = []
  const end = performance.now() + seconds * 1000
  while (performance.now() < end) lags.push(await probe(spoor, client, target))
  const load = await background
  lags.sort((a, b) => a - b)
  const ms = (n: number): number => Math.round(n * 10) / 10
  return {
    seconds,
    pollMs: POLL_MS,
    probes: lags.length,
    lagMs: {
      p50: ms(percentile(lags, 50)),
      p90: ms(percentile(lags, 90)),
      p99: ms(percentile(lags, 99)),
      max: ms(lags[lags.length - 1]),
      mean: ms(lags.reduce((a, b) => a + b, 0) / lags.length)
    },
    background: { ...load, rate }
  }
}
