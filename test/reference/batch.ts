// The reference decoder of a batch (format v1, written by the native encoder), in plain JS: the tests and the bench
// read batches with it and compare the native code against it. Production reads batches only in native code
// (PutRequests and Sessions, native/src/records.rs), which checks them by the same rules.
//
//   batch  = "SPB1" count:u32 record{count}
//   record = len:u32 ts:u64 ku_len:u8 ku ku_len:u8 kt nf:u8 field{nf}
//   field  = q:u8 vlen:u16 value
//
// All integers are big-endian. `q` indexes QUALIFIERS. Decoding copies nothing: keys and values are
// views into the batch.

import { FAMILY, QUALIFIERS } from '../../daemon/hbase/schema'
import { userAgent } from '../../daemon/native'

/** A column qualifier of FAMILY: one of QUALIFIERS, which native/src/schema.rs defines. */
export type Qualifier = string

export { FAMILY, QUALIFIERS }

export interface EncodedEvent {
  /** Server timestamp in ms: the cell timestamp of every cell of the event. */
  ts: number
  userKey: Buffer
  timeKey: Buffer
  /** Qualifier ids and values, in ascending qualifier id. */
  fields: Array<[number, Buffer]>
  /** Bytes the event takes in the batch, a fair estimate of its size on the wire. */
  size: number
}

export class BatchFormatError extends Error {
  constructor (detail: string) {
    super(`batch is not format v1: ${detail}`)
    this.name = 'BatchFormatError'
  }
}

const MAGIC = 0x53504231 // "SPB1"

export function decodeBatch (batch: Buffer): EncodedEvent[] {
  if (batch.length < 8 || batch.readUInt32BE(0) !== MAGIC) throw new BatchFormatError('bad header')
  const count = batch.readUInt32BE(4)
  const events: EncodedEvent[] = new Array(count)
  let at = 8
  for (let i = 0; i < count; i++) {
    if (at + 4 > batch.length) throw new BatchFormatError(`record ${i} is cut short`)
    const len = batch.readUInt32BE(at)
    const end = at + 4 + len
    if (end > batch.length) throw new BatchFormatError(`record ${i} is cut short`)
    let p = at + 4
    const ts = Number(batch.readBigUInt64BE(p))
    p += 8
    const kuLen = batch[p++]
    const userKey = batch.subarray(p, p + kuLen)
    p += kuLen
    const ktLen = batch[p++]
    const timeKey = batch.subarray(p, p + ktLen)
    p += ktLen
    const nf = batch[p++]
    const fields: Array<[number, Buffer]> = new Array(nf)
    for (let f = 0; f < nf; f++) {
      const q = batch[p]
      const vlen = batch.readUInt16BE(p + 1)
      p += 3
      if (q >= QUALIFIERS.length) throw new BatchFormatError(`record ${i} has unknown qualifier ${q}`)
      fields[f] = [q, batch.subarray(p, p + vlen)]
      p += vlen
    }
    if (p !== end) throw new BatchFormatError(`record ${i} length does not match its fields`)
    events[i] = { ts, userKey, timeKey, fields, size: 4 + len }
    at = end
  }
  if (at !== batch.length) throw new BatchFormatError('trailing bytes')
  return events
}

/** An event as a plain object of qualifier → text, for readers and tests. */
export function eventCells (event: EncodedEvent): Partial<Record<Qualifier, string>> {
  const cells: Partial<Record<Qualifier, string>> = {}
  for (const [q, value] of event.fields) cells[QUALIFIERS[q]] = value.toString('utf8')
  return cells
}

/**
 * The cells the flush writes for an event: its own fields, then those it adds from its user agent (`br`, `os`, `dt`,
 * and `bot` for a bot; native/src/agent.rs), as [qualifier id, value]. `appPlatforms` is `enrich.app_platforms`.
 */
export function storedCells (event: EncodedEvent, appPlatforms: string[] = []): Array<[number, Buffer]> {
  const ua = event.fields.find(([q]) => q === UA)?.[1]
  if (ua === undefined) return event.fields
  const a = userAgent(ua.toString('utf8'), fromApp(eventCells(event), appPlatforms))
  const added: Array<[number, string]> = [[BR, a.browser], [BR + 1, a.os], [BR + 2, a.device], [BR + 3, a.bot ? '1' : '']]
  return [...event.fields, ...added.filter(([, v]) => v !== '').map(([q, v]): [number, Buffer] => [q, Buffer.from(v)])]
}

/** Whether an event comes from an app platform: its `p`, or the Snowplow platform kept as `d.platform`, is listed. */
export function fromApp (cells: Partial<Record<Qualifier, string>>, appPlatforms: string[]): boolean {
  if (cells.p !== undefined && appPlatforms.includes(cells.p)) return true
  let d: unknown
  try {
    d = JSON.parse(cells.d ?? '')
  } catch {
    return false
  }
  const platform = typeof d === 'object' && d !== null && !Array.isArray(d) ? (d as Record<string, unknown>).platform : undefined
  return typeof platform === 'string' && appPlatforms.includes(platform)
}

const UA = QUALIFIERS.indexOf('ua')
const BR = QUALIFIERS.indexOf('br')
