// A flush worker thread: writes one batch to both HBase tables with Thrift2 putMultiple and reports the outcome.

import Int64 from 'node-int64'
import { HBaseClient } from './hbase-client'
import { BatchFormatError, decodeBatch, FAMILY, QUALIFIERS, type EncodedEvent } from './record'
import { TColumnValue, TPut } from './thrift-gen/hbase_types'

export interface FlushTask {
  batch: Uint8Array
  host: string
  port: number
  timeoutMs: number
  userTable: string
  timeTable: string
  maxRequestBytes: number
}

export type FlushResult =
  | { ok: true, events: number }
  | { ok: false, permanent: boolean, reason: string }

const family = Buffer.from(FAMILY)
const qualifiers = QUALIFIERS.map(q => Buffer.from(q))

// One connection per worker thread, kept across tasks and replaced after any failure.
let client: HBaseClient | undefined
/** The flush.timeout_ms the connection was made with; a reload that changes it gets a new connection. */
let clientTimeoutMs = 0

async function connection (task: FlushTask): Promise<HBaseClient> {
  if (client?.isOpen === true && clientTimeoutMs === task.timeoutMs) return client
  void client?.close()
  client = await HBaseClient.connect({ host: task.host, port: task.port, connectTimeoutMs: task.timeoutMs, requestTimeoutMs: task.timeoutMs })
  clientTimeoutMs = task.timeoutMs
  return client
}

function toPut (row: Buffer, event: EncodedEvent): TPut {
  const timestamp = new Int64(event.ts)
  const columnValues = event.fields.map(([q, value]) => new TColumnValue({ family, qualifier: qualifiers[q], value, timestamp }))
  return new TPut({ row, columnValues, timestamp })
}

/** Cuts a batch into slices whose puts stay under maxBytes on the wire. */
function * slices (events: EncodedEvent[], maxBytes: number): Generator<EncodedEvent[]> {
  let start = 0
  let bytes = 0
  for (let i = 0; i < events.length; i++) {
    // Thrift adds per-cell framing, family and qualifier to what the batch holds.
    const size = events[i].size + events[i].fields.length * 16
    if (i > start && bytes + size > maxBytes) {
      yield events.slice(start, i)
      start = i
      bytes = 0
    }
    bytes += size
  }
  if (start < events.length) yield events.slice(start)
}

/** HBase errors that retrying cannot fix: the batch goes to the dead-letter store. */
function isPermanent (err: Error & { kind?: string }): boolean {
  if (err instanceof BatchFormatError) return true
  if (err.kind === 'illegal-argument') return true
  return err.kind === 'io' && /NoSuchColumnFamily|KeyValue size too large|Cell with size/.test(err.message)
}

export default async function flush (task: FlushTask): Promise<FlushResult> {
  try {
    const batch = Buffer.from(task.batch.buffer, task.batch.byteOffset, task.batch.byteLength)
    const events = decodeBatch(batch)
    const hbase = await connection(task)
    for (const slice of slices(events, task.maxRequestBytes)) {
      await hbase.putMultiple(task.userTable, slice.map(e => toPut(e.userKey, e)))
      await hbase.putMultiple(task.timeTable, slice.map(e => toPut(e.timeKey, e)))
    }
    return { ok: true, events: events.length }
  } catch (err) {
    const e = err as Error & { kind?: string }
    const permanent = isPermanent(e)
    if (!permanent) {
      void client?.close()
      client = undefined
    }
    return { ok: false, permanent, reason: `${e.kind ?? e.name}: ${e.message}` }
  }
}
