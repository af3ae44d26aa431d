// The recommendation signals table: one row per signal, keyed user first and then by the signal's id, so that
// writing a signal again writes the same cells (docs/hbase-schema.md, docs/recommendations.md).

import Int64 = require('node-int64')
import type { Delete, HBaseClient, Put, Scan } from './client'
import { KEYS_ONLY } from './client'
import { checkSaltBuckets, SIGNAL_FAMILY } from './schema'
import { uidText, userRowPrefix } from '../native'
import type { TResult } from './thrift-gen/hbase_types'

/** One signal: `user` acted on `item` in a way of `kind` at `ts` (ms since the epoch); `id` names it once for all. */
export interface Signal {
  user: string
  item: string
  kind: string
  ts: number
  id: string
}

/** A signal as read back from the table, with its rowkey. */
export interface StoredSignal extends Signal {
  row: Buffer
}

/** Bytes of the rowkey before the signal id: the salt and the 16-byte user, as in the by-user event table. */
export const SIGNAL_PREFIX_BYTES = 17

const FAMILY = Buffer.from(SIGNAL_FAMILY)
/** The qualifiers of a signal's cells; jobs/ Train.java spells them too (test/hbase-schema.test.ts checks). */
export const SIGNAL_QUALIFIERS = { user: 'u', item: 'it', kind: 'k' } as const
const USER = Buffer.from(SIGNAL_QUALIFIERS.user)
const ITEM = Buffer.from(SIGNAL_QUALIFIERS.item)
const KIND = Buffer.from(SIGNAL_QUALIFIERS.kind)

/**
 * Above any timestamp a signal can carry, and below HBase's LATEST_TIMESTAMP (which means "now"): a row deleted
 * with it stays deleted however its cells are dated, and a signal delivered again after the erasure stays hidden
 * until the table's next major compaction drops the delete.
 */
const DELETE_EVERYTHING = new Int64(Buffer.from('7ffffffffffffffe', 'hex'))

/** Rows per request when reading or deleting. */
const CHUNK = 1000

/** The first SIGNAL_PREFIX_BYTES of a user's rowkeys: `salt ‖ uid16(user)`, the by-user event table's prefix. */
export function signalUserPrefix (user: string, saltBuckets: number): Buffer {
  return userRowPrefix(user, saltBuckets)
}

/** A signal's rowkey: `salt(1) ‖ uid16(user)(16) ‖ id`, the id in UTF-8. */
export function signalRowKey (user: string, id: string, saltBuckets: number): Buffer {
  return Buffer.concat([signalUserPrefix(user, saltBuckets), Buffer.from(id, 'utf8')])
}

/**
 * The put that stores a signal: the user (as the event tables write a uid: `uidText`), the item and the kind, every
 * cell dated with the signal's own ts. Nothing in it depends on when or how often it is written.
 */
export function signalPut (signal: Signal, saltBuckets: number): Put {
  const cell = (qualifier: Buffer, value: string): Put['columnValues'][number] => ({ family: FAMILY, qualifier, value: Buffer.from(value, 'utf8'), timestamp: signal.ts })
  return {
    row: signalRowKey(signal.user, signal.id, saltBuckets),
    columnValues: [cell(USER, uidText(signal.user)), cell(ITEM, signal.item), cell(KIND, signal.kind)]
  }
}

/** About how many bytes a put takes in a request. */
function putBytes (put: Put): number {
  return put.row.length + put.columnValues.reduce((n, c) => n + c.qualifier.length + c.value.length + 24, 16)
}

/**
 * Writes the signals, in putMultiple requests of at most about `maxRequestBytes` each (under the gateway's frame
 * limit). Resolves once HBase has acknowledged every one; rejects on the first failed request, after which some
 * may be stored and others not, which writing them all again puts right.
 */
export async function writeSignals (client: HBaseClient, table: string, signals: Signal[], saltBuckets: number, maxRequestBytes = 1024 * 1024): Promise<void> {
  checkSaltBuckets(saltBuckets, 'saltBuckets')
  let request: Put[] = []
  let bytes = 0
  for (const signal of signals) {
    const put = signalPut(signal, saltBuckets)
    const size = putBytes(put)
    if (request.length > 0 && bytes + size > maxRequestBytes) {
      await client.putMultiple(table, request)
      request = []
      bytes = 0
    }
    request.push(put)
    bytes += size
  }
  if (request.length > 0) await client.putMultiple(table, request)
}

function toSignal (result: TResult): StoredSignal {
  const row = result.row ?? Buffer.alloc(0)
  const signal: StoredSignal = { row, user: '', item: '', kind: '', ts: 0, id: row.subarray(SIGNAL_PREFIX_BYTES).toString('utf8') }
  for (const cell of result.columnValues) {
    if (!cell.family.equals(FAMILY)) continue
    const value = cell.value.toString('utf8')
    if (cell.qualifier.equals(USER)) signal.user = value
    else if (cell.qualifier.equals(ITEM)) signal.item = value
    else if (cell.qualifier.equals(KIND)) signal.kind = value
    signal.ts = Math.max(signal.ts, cell.timestamp?.toNumber(true) ?? 0)
  }
  return signal
}

/** The first key after every key that starts with `prefix` (a user prefix never ends in 0xff bytes only). */
function prefixEnd (prefix: Buffer): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] !== 0xff) {
      end[i]++
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.alloc(0)
}

/** Every row of a scan, a chunk at a time; the scanner is closed however the read ends. */
async function scanAll (client: HBaseClient, table: string, scan: Scan, each: (r: TResult) => void): Promise<void> {
  const id = await client.openScanner(table, { caching: CHUNK, ...scan })
  try {
    // Only an empty answer ends a scan: the gateway can answer fewer rows than asked while more remain.
    for (let rows = await client.getScannerRows(id, CHUNK); rows.length > 0; rows = await client.getScannerRows(id, CHUNK)) rows.forEach(each)
  } finally {
    await client.closeScanner(id).catch(() => {})
  }
}

function userScan (user: string, saltBuckets: number): Scan {
  const prefix = signalUserPrefix(user, saltBuckets)
  const stopRow = prefixEnd(prefix)
  return stopRow.length === 0 ? { startRow: prefix } : { startRow: prefix, stopRow }
}

/** One user's signals, in the order of their ids' bytes; one prefix scan. */
export async function userSignals (client: HBaseClient, table: string, user: string, saltBuckets: number): Promise<StoredSignal[]> {
  checkSaltBuckets(saltBuckets, 'saltBuckets')
  const signals: StoredSignal[] = []
  const wanted = uidText(user)
  // Two users whose 16-byte hashes collide would share the prefix; the user cell tells them apart.
  await scanAll(client, table, userScan(user, saltBuckets), r => {
    const s = toSignal(r)
    if (s.user === wanted) signals.push(s)
  })
  return signals
}

/** Every signal of the table, in rowkey order: salt, user, id. */
export async function allSignals (client: HBaseClient, table: string): Promise<StoredSignal[]> {
  const signals: StoredSignal[] = []
  await scanAll(client, table, {}, r => signals.push(toSignal(r)))
  return signals
}

/**
 * Every signal dated after `afterTs` (ms), the whole table read with a time range on the cells, which carry the
 * signal's own ts: what a model generation trained up to `afterTs` has not seen.
 */
export async function signalsSince (client: HBaseClient, table: string, afterTs: number): Promise<StoredSignal[]> {
  const signals: StoredSignal[] = []
  const timeRange = { minStamp: new Int64(afterTs + 1), maxStamp: new Int64(Buffer.from('7fffffffffffffff', 'hex')) }
  await scanAll(client, table, { timeRange }, r => signals.push(toSignal(r)))
  return signals
}

/** The rowkeys of one user's signals, read without their cells; none when the table does not exist. */
export async function userSignalKeys (client: HBaseClient, table: string, user: string, saltBuckets: number): Promise<Buffer[]> {
  checkSaltBuckets(saltBuckets, 'saltBuckets')
  // A deployment that does not use recommendations may never have created the table.
  if (!await client.tableExists(table)) return []
  const keys: Buffer[] = []
  await scanAll(client, table, { ...userScan(user, saltBuckets), filterString: KEYS_ONLY }, r => keys.push(r.row ?? Buffer.alloc(0)))
  return keys
}

/**
 * The delete of one signal row: it covers every cell whatever its timestamp (see DELETE_EVERYTHING), so that a
 * signal dated ahead of HBase's clock goes too.
 */
export function signalDelete (row: Buffer): Delete {
  return { row, timestamp: DELETE_EVERYTHING }
}
