// A flush worker thread: writes batches to both event tables and their identity links to HBase with Thrift2 putMultiple, and reports the outcome.

import { HBaseClient, HBaseError } from '../hbase/client'
import { PutRequests, putRequests } from '../native'

export interface FlushTask {
  /** Consecutive batches of the buffer, written as one. */
  batches: Uint8Array[]
  host: string
  port: number
  timeoutMs: number
  userTable: string
  timeTable: string
  identityTable: string
  saltBuckets: number
  /** Leave out events whose user agent is a bot's (`enrich.drop_bots`). */
  dropBots: boolean
  /** Platforms whose HTTP-library user agents are no bot's (`enrich.app_platforms`). */
  appPlatforms: string[]
  maxRequestBytes: number
}

export type FlushResult =
  | { ok: true, events: number, droppedBots: number }
  | { ok: false, permanent: boolean, reason: string }

/**
 * Connections to the gateway, kept across tasks. The gateway answers one request per connection at a time, so
 * each request in flight takes a connection of its own: the two tables' writes of a batch go at once, and so do
 * the batches of concurrent tasks. A connection that failed is dropped; one made with an older flush.timeout_ms
 * (changed by a reload) is closed when next picked.
 */
const idle: Array<{ client: HBaseClient, timeoutMs: number }> = []

async function acquire (task: FlushTask): Promise<HBaseClient> {
  for (let c = idle.pop(); c !== undefined; c = idle.pop()) {
    if (c.client.isOpen && c.timeoutMs === task.timeoutMs) return c.client
    void c.client.close()
  }
  return await HBaseClient.connect({ host: task.host, port: task.port, connectTimeoutMs: task.timeoutMs, requestTimeoutMs: task.timeoutMs })
}

/** Writes one request on a connection of its own, which goes back to the idle set only if it is still sound. */
async function send (task: FlushTask, build: (seqid: number) => Buffer): Promise<void> {
  const client = await acquire(task)
  try {
    await client.putMultipleFrame(build)
  } catch (err) {
    void client.close()
    throw err
  }
  idle.push({ client, timeoutMs: task.timeoutMs })
}

/**
 * Batches (format v1: "SPB1", the record count, the records) as one: the records of all after one header. A batch
 * without the header is given back alone, for putRequests to refuse; the flush then writes the batches one by one,
 * so that only that one becomes a dead letter. The joined batch is checked whole like any other: records that do
 * not add up to the counts leave it cut short or with trailing bytes.
 */
export function joinBatches (batches: Uint8Array[]): Buffer {
  const views = batches.map(b => Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  const bad = views.find(b => b.length < HEADER_BYTES || b.toString('latin1', 0, 4) !== 'SPB1')
  if (bad !== undefined) return bad
  if (views.length === 1) return views[0]
  const joined = Buffer.allocUnsafe(HEADER_BYTES + views.reduce((n, b) => n + b.length - HEADER_BYTES, 0))
  joined.write('SPB1', 0, 'latin1')
  let count = 0
  let at = HEADER_BYTES
  for (const b of views) {
    count += b.readUInt32BE(4)
    at += b.copy(joined, at, HEADER_BYTES)
  }
  // A count past 32 bits cannot be a real one: written as the largest, it makes the joined batch cut short.
  joined.writeUInt32BE(Math.min(count, 0xffffffff), 4)
  return joined
}

/** A batch's header: the magic "SPB1" and the record count. */
const HEADER_BYTES = 8

export default async function flush (task: FlushTask): Promise<FlushResult> {
  try {
    // Checked whole before anything is written: a batch that is not format v1 can never be, and is a dead letter.
    const requests = putRequests(joinBatches(task.batches), task.maxRequestBytes, task.saltBuckets, task.dropBots, task.appPlatforms)
    if (!(requests instanceof PutRequests)) return { ok: false, permanent: true, reason: requests.reason }
    // Each request is written by the native module as one frame.
    const userTable = Buffer.from(task.userTable)
    const timeTable = Buffer.from(task.timeTable)
    const identityTable = Buffer.from(task.identityTable)
    for (let i = 0; i < requests.requests; i++) {
      await Promise.all([
        send(task, seqid => requests.frame(i, userTable, false, seqid)),
        send(task, seqid => requests.frame(i, timeTable, true, seqid))
      ])
    }
    for (let i = 0; i < requests.linkRequests; i++) await send(task, seqid => requests.linkFrame(i, identityTable, seqid))
    return { ok: true, events: requests.events, droppedBots: requests.droppedBots }
  } catch (err) {
    const e = err as Error
    // An HBaseError says whether a retry can succeed; anything else (a bug, a worker out of memory) is retried.
    if (e instanceof HBaseError) return { ok: false, permanent: e.permanent, reason: `${e.kind}: ${e.message}` }
    return { ok: false, permanent: false, reason: `${e.name}: ${e.message}` }
  }
}
