// End-to-end lag: the time from a pixel request to its row being readable in HBase, while the pipeline carries a
// steady background load that it keeps up with.
//
// A probe is a pixel with a uid of its own. The bench sends it, then looks for its row in HBase until it is there:
// every POLL_MS, or every `pollShare` of the time waited so far when that is longer, so that a pipeline whose rows
// take seconds is not scanned hundreds of times per probe. Probes go one after another for the whole run, beside
// autocannon's paced load. spoor's probe looks for the uid's prefix in the by-user table; other pipelines (the
// seed's, bench/flume.ts) give their own lookup.

import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { HBaseClient } from '../daemon/hbase/client'
import { scanPrefix } from '../daemon/hbase/reader'
import { userRowPrefix } from '../daemon/native'
import { PIXEL, runAutocannon, type LoadResult, type Workload } from './load'
import type { HBaseTarget, RunningSpoor } from './servers'

/** How often a probe's row is looked for at most; it bounds how much later than its arrival a row can be seen. */
export const POLL_MS = 5
/** A probe not seen in HBase by then is a failure of the pipeline, not a slow sample. */
const PROBE_TIMEOUT_MS = 60000

export interface LagResult {
  seconds: number
  pollMs: number
  /** Past POLL_MS, a row is looked for again after this share of the time waited so far (0: every POLL_MS). */
  pollShare: number
  probes: number
  /** Time from sending the probe until its row was read back, in ms. */
  lagMs: { p50: number, p90: number, p99: number, max: number, mean: number }
  /** The paced background load beside the probes. */
  background: LoadResult & { rate: number }
}

/** Where the probes go and how their rows are found. */
export interface ProbeTarget {
  /** The pipeline's HTTP port, which answers GET /p.gif. */
  port: number
  /** Whether the probe's row, with this uid, is readable in HBase yet; `sentMs` is the wall clock when it was sent. */
  landed: (uid: string, sentMs: number) => Promise<boolean>
}

export interface ProbeOptions {
  /** The background request; default the bench's pixel. */
  workload?: Workload
  /** Background connections; default 8. */
  connections?: number
  /** autocannon's -I: a path holding `[<id>]` gets an id of its own in every request. */
  uniqueIds?: boolean
  /** See LagResult.pollShare; default 0. */
  pollShare?: number
  /** Called once the first probe is about to be sent, with the wall clock. */
  onStart?: (wallMs: number) => void
}

/** A probe's path: its uid, and the same id as item (`it`), so that a probe's event can be told apart as every background one. */
export function probePath (uid: string): string {
  return `/p.gif?uid=${uid}&a=lag-probe&it=probe-${uid}`
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p / 100) - 1)]
}

async function probe (target: ProbeTarget, pollShare: number): Promise<number> {
  const uid = randomBytes(16).toString('hex')
  const sentMs = Date.now()
  const sent = performance.now()
  const res = await fetch(`http://127.0.0.1:${target.port}${probePath(uid)}`)
  await res.arrayBuffer()
  if (res.status !== 200) throw new Error(`a lag probe was answered ${res.status}`)
  for (;;) {
    if (await target.landed(uid, sentMs)) return performance.now() - sent
    const waited = performance.now() - sent
    if (waited > PROBE_TIMEOUT_MS) throw new Error(`a lag probe (uid ${uid}) was not in HBase after ${PROBE_TIMEOUT_MS} ms`)
    await sleep(Math.max(POLL_MS, waited * pollShare))
  }
}

/** Probes for `seconds` while autocannon, on `loadCpus`, sends `rate` requests per second to the target. */
export async function measureProbeLag (target: ProbeTarget, seconds: number, rate: number, loadCpus: string, o: ProbeOptions = {}): Promise<LagResult> {
  const pollShare = o.pollShare ?? 0
  o.onStart?.(Date.now())
  const background = runAutocannon(target.port, o.workload ?? PIXEL, seconds, loadCpus, undefined, { rate, connections: o.connections ?? 8, uniqueIds: o.uniqueIds })
  const lags: number[] = []
  const end = performance.now() + seconds * 1000
  while (performance.now() < end) lags.push(await probe(target, pollShare))
  const load = await background
  lags.sort((a, b) => a - b)
  const ms = (n: number): number => Math.round(n * 10) / 10
  return {
    seconds,
    pollMs: POLL_MS,
    pollShare,
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

/** spoor's probe: the uid's prefix in the by-user table. */
export function spoorProbeTarget (spoor: RunningSpoor, client: HBaseClient, target: HBaseTarget): ProbeTarget {
  return {
    port: spoor.port,
    landed: async uid => (await scanPrefix(client, target.userTable, userRowPrefix(uid, target.saltBuckets), 1)).length > 0
  }
}

/** Probes spoor for `seconds` while autocannon, on `loadCpus`, sends `rate` pixels per second. */
export async function measureLag (spoor: RunningSpoor, client: HBaseClient, target: HBaseTarget, seconds: number, rate: number, loadCpus: string): Promise<LagResult> {
  return await measureProbeLag(spoorProbeTarget(spoor, client, target), seconds, rate, loadCpus)
}
