// A flush worker thread: writes one batch to both event tables and its identity links to HBase with Thrift2 putMultiple, and reports the outcome.

import { HBaseClient } from './hbase-client'
import { PutRequests } from './native'

export interface FlushTask {
  batch: Uint8Array
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

/** How the native module's message for a batch that is not format v1 begins. */
const BATCH_FORMAT = 'batch is not format v1:'

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

/** HBase errors that retrying cannot fix: the batch goes to the dead-letter store. */
function isPermanent (err: Error & { kind?: string }): boolean {
  if (err.message.startsWith(BATCH_FORMAT)) return true
  if (err.kind === 'illegal-argument') return true
  return err.kind === 'io' && /NoSuchColumnFamily|KeyValue size too large|Cell with size/.test(err.message)
}

export default async function flush (task: FlushTask): Promise<FlushResult> {
  try {
    // Checked whole before anything is written; each request is written by the native module as one frame.
    const requests = new PutRequests(Buffer.from(task.batch.buffer, task.batch.byteOffset, task.batch.byteLength), task.maxRequestBytes, task.saltBuckets, task.dropBots, task.appPlatforms)
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
    const e = err as Error & { kind?: string }
    return { ok: false, permanent: isPermanent(e), reason: `${e.kind ?? e.name}: ${e.message}` }
  }
}
