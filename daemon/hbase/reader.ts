// Reads events back from HBase: one user's rows (or only their keys) by key prefix, a time range merged across buckets, row counts.

import { KEYS_ONLY, type HBaseClient, type Scan } from './client'
import { checkSaltBuckets, FAMILY } from './schema'
import type { TResult } from './thrift-gen/hbase_types'

/** One event row as read back. */
export interface Row {
  /** The full rowkey. */
  row: Buffer
  /** The cell timestamp in ms, which is the event's timestamp. */
  ts: number
  /** Qualifier → value, both UTF-8, of the cells in family FAMILY. */
  cells: Record<string, string>
}

/** Rows fetched per round trip; a gateway frame of a few hundred kB for typical events. */
const CHUNK = 1000

/** Rows per round trip when only counting; keys alone are small. */
const COUNT_CHUNK = 10000

const FAMILY_BYTES = Buffer.from(FAMILY)

const LONG_MAX = 0x7fffffffffffffffn

function checkLimit (limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError('limit must be a non-negative integer')
}

function toRow (result: TResult): Row {
  const cells: Record<string, string> = {}
  let ts = 0
  for (const cell of result.columnValues) {
    if (!cell.family.equals(FAMILY_BYTES)) continue
    cells[cell.qualifier.toString('utf8')] = cell.value.toString('utf8')
    ts = Math.max(ts, cell.timestamp?.toNumber(true) ?? 0)
  }
  return { row: result.row ?? Buffer.alloc(0), ts, cells }
}

/** The first key after every key that starts with `prefix`, or undefined when there is none (all 0xff). */
function prefixEnd (prefix: Buffer): Buffer | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1))
      end[i]++
      return end
    }
  }
  return undefined
}

/** A scanner held by the gateway, read a chunk at a time. */
class Cursor {
  private rows: TResult[] = []
  private next = 0
  private done = false

  private constructor (private readonly client: HBaseClient, private readonly id: number, private readonly chunk: number) {}

  static async open (client: HBaseClient, table: string, scan: Scan, chunk: number): Promise<Cursor> {
    return new Cursor(client, await client.openScanner(table, { caching: chunk, ...scan }), chunk)
  }

  /** The next row without taking it, fetching a chunk when needed; undefined at the end. */
  async peek (): Promise<TResult | undefined> {
    if (this.next === this.rows.length && !this.done) {
      this.rows = await this.client.getScannerRows(this.id, this.chunk)
      this.next = 0
      // Only an empty answer ends the scan: a short chunk says nothing of what remains.
      this.done = this.rows.length === 0
    }
    return this.rows[this.next]
  }

  take (): TResult {
    return this.rows[this.next++]
  }

  async close (): Promise<void> {
    await this.client.closeScanner(this.id)
  }
}

/** Opens one cursor per scan; if any fails, closes those that opened and rethrows. */
async function openAll (client: HBaseClient, table: string, scans: Scan[], chunk: number): Promise<Cursor[]> {
  const opened = await Promise.allSettled(scans.map(async scan => await Cursor.open(client, table, scan, chunk)))
  const cursors = opened.flatMap(o => o.status === 'fulfilled' ? [o.value] : [])
  const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected')
  if (failed === undefined) return cursors
  await closeAll(cursors)
  throw failed.reason
}

/** Closes cursors, best effort: a failure here must not hide the error or result that ends the read. */
async function closeAll (cursors: Cursor[]): Promise<void> {
  await Promise.allSettled(cursors.map(async c => await c.close()))
}

/** The largest limit a scan can carry (a Thrift i32); larger ones are enforced here alone. */
const SCAN_LIMIT_MAX = 2147483647

/** Reads up to `limit` rows of one scan, in key order. */
async function readScan (client: HBaseClient, table: string, scan: Scan, limit: number, chunk: number, each: (r: TResult) => void): Promise<void> {
  const [cursor] = await openAll(client, table, [limit <= SCAN_LIMIT_MAX ? { ...scan, limit } : scan], chunk)
  try {
    for (let n = 0; n < limit && await cursor.peek() !== undefined; n++) each(cursor.take())
  } finally {
    await closeAll([cursor])
  }
}

/**
 * Rows whose key starts with `prefix`, in key order, at most `limit`. In the by-user table a prefix of salt and
 * uid gives that user's events newest first, since the inverse timestamp follows the uid. `after`, a key of those
 * rows, starts the scan just past it: the next page of a paged read.
 */
export async function scanPrefix (client: HBaseClient, table: string, prefix: Buffer, limit: number, after?: Buffer): Promise<Row[]> {
  checkLimit(limit)
  const rows: Row[] = []
  if (limit === 0) return rows
  if (after !== undefined && !after.subarray(0, prefix.length).equals(prefix)) throw new RangeError('after must be a key that starts with the prefix')
  const startRow = after === undefined ? prefix : Buffer.concat([after, Buffer.alloc(1)])
  const stopRow = prefixEnd(prefix)
  const scan: Scan = stopRow === undefined ? { startRow } : { startRow, stopRow }
  await readScan(client, table, scan, limit, Math.min(limit, CHUNK), r => rows.push(toRow(r)))
  return rows
}

/** Every rowkey that starts with `prefix`, in key order, read without their cells. */
export async function scanKeys (client: HBaseClient, table: string, prefix: Buffer): Promise<Buffer[]> {
  const keys: Buffer[] = []
  const stopRow = prefixEnd(prefix)
  const scan: Scan = { startRow: prefix, ...(stopRow === undefined ? {} : { stopRow }), filterString: KEYS_ONLY }
  await readScan(client, table, scan, Number.MAX_SAFE_INTEGER, COUNT_CHUNK, r => keys.push(r.row ?? Buffer.alloc(0)))
  return keys
}

/** A by-time key prefix: the bucket, then Long.MAX_VALUE − ts as 8 bytes big-endian (`inverse` may be 2^63). */
function timeKey (bucket: number, inverse: bigint): Buffer {
  const key = Buffer.alloc(9)
  key[0] = bucket
  key.writeBigUInt64BE(inverse, 1)
  return key
}

/** Orders by-time rows newest first across buckets: by the key after the bucket byte, then by bucket. */
function newestFirst (a: TResult, b: TResult): number {
  const ra = a.row ?? Buffer.alloc(0)
  const rb = b.row ?? Buffer.alloc(0)
  return Buffer.compare(ra.subarray(1), rb.subarray(1)) || ra[0] - rb[0]
}

/**
 * Events of the by-time table with fromMs ≤ ts ≤ toMs, newest first, at most `limit`. Runs one scan per
 * bucket (`bucket | inv(toMs)` up to and including `bucket | inv(fromMs)`), all opened at once, and merges
 * them, fetching more from a bucket only when the merge reaches the end of what it has.
 */
export async function scanTimeRange (client: HBaseClient, table: string, saltBuckets: number, fromMs: number, toMs: number, limit: number): Promise<Row[]> {
  checkSaltBuckets(saltBuckets, 'saltBuckets')
  if (!Number.isSafeInteger(fromMs) || fromMs < 0) throw new RangeError('fromMs must be a non-negative integer')
  if (!Number.isSafeInteger(toMs) || toMs < fromMs) throw new RangeError('toMs must be an integer no less than fromMs')
  checkLimit(limit)
  const rows: Row[] = []
  if (limit === 0) return rows
  // About twice a bucket's fair share, so that an even spread needs one round trip per bucket.
  const chunk = Math.min(CHUNK, limit, Math.max(16, Math.ceil(2 * limit / saltBuckets)))
  const scans = Array.from({ length: saltBuckets }, (_, bucket): Scan => ({
    startRow: timeKey(bucket, LONG_MAX - BigInt(toMs)),
    // Exclusive, so one past inv(fromMs): every key that starts with bucket | inv(fromMs) is inside.
    stopRow: timeKey(bucket, LONG_MAX - BigInt(fromMs) + 1n),
    limit: Math.min(limit, SCAN_LIMIT_MAX)
  }))
  const cursors = await openAll(client, table, scans, chunk)
  try {
    while (rows.length < limit) {
      const heads = await Promise.all(cursors.map(async c => await c.peek()))
      let best = -1
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i]
        if (head !== undefined && (best < 0 || newestFirst(head, heads[best] as TResult) < 0)) best = i
      }
      if (best < 0) break
      rows.push(toRow(cursors[best].take()))
    }
  } finally {
    await closeAll(cursors)
  }
  return rows
}

/** Counts a table's rows with a full scan that returns only the first key of each row. */
export async function countRows (client: HBaseClient, table: string): Promise<number> {
  let n = 0
  const scan: Scan = { filterString: KEYS_ONLY }
  await readScan(client, table, scan, Number.MAX_SAFE_INTEGER, COUNT_CHUNK, () => { n++ })
  return n
}
