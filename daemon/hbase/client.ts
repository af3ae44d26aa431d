// A promise-based client for one connection to an HBase Thrift2 gateway (framed transport, compact protocol).

import thrift = require('thrift')
import THBaseService = require('./thrift-gen/THBaseService')
import ttypes = require('./thrift-gen/hbase_types')

/**
 * Where a failure came from, so that callers can tell retryable from permanent:
 * - `io`: HBase reported an IOException (a region moving, a server down, a missing table or family; see the message);
 * - `illegal-argument`: the request itself is wrong (HBase's TIllegalArgument, a request the gateway failed on
 *   with a runtime exception, or one that could not be encoded); retrying it gives the same answer;
 * - `transport`: the connection failed or is closed; the call may or may not have been applied;
 * - `timeout`: no answer within the time allowed; the call may or may not have been applied.
 */
export type HBaseErrorKind = 'io' | 'illegal-argument' | 'transport' | 'timeout'

export class HBaseError extends Error {
  readonly kind: HBaseErrorKind
  /**
   * True when sending the same request again cannot succeed: an `illegal-argument`, or an `io` failure whose Java
   * exception a retry meets again (a missing family, a cell too large). The gateway passes only the exception's
   * text, wrapped in one it marks retryable, so the names are read from it here, where the error is decoded. A
   * missing table stays retryable: it may be created meanwhile.
   */
  readonly permanent: boolean

  constructor (kind: HBaseErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'HBaseError'
    this.kind = kind
    this.permanent = kind === 'illegal-argument' || (kind === 'io' && PERMANENT_IO.test(message))
  }
}

/** HBase's exceptions that a retry of the same put meets again, as its gateway names them in a TIOError's message. */
const PERMANENT_IO = /NoSuchColumnFamily|KeyValue size too large|Cell with size/

export interface HBaseClientOptions {
  /** Host of the Thrift2 gateway. Default `127.0.0.1`. */
  host?: string
  /** Port of the Thrift2 gateway, 1–65535. Default 9090. */
  port?: number
  /** Milliseconds to wait for the TCP connection before `connect` rejects with kind `timeout`. Default 5000. */
  connectTimeoutMs?: number
  /**
   * Milliseconds each call may take before it rejects with kind `timeout`. The connection is then closed, since
   * Thrift cannot cancel a call and the gateway answers one connection's calls in order. Default 30000.
   */
  requestTimeoutMs?: number
}

type FilledOptions = Required<HBaseClientOptions>

const kDefaultOptions: FilledOptions = { host: '127.0.0.1', port: 9090, connectTimeoutMs: 5000, requestTimeoutMs: 30000 }

/** A 64-bit value as the generated code takes it: a number (exact up to 2^53) or a node-int64. */
export type I64 = number | thrift.Int64

export interface PutCell {
  family: Buffer
  qualifier: Buffer
  value: Buffer
  /** Cell timestamp in ms; the server's clock when absent. */
  timestamp?: I64
}

/** One row's cells to write; a generated `TPut` fits this too. */
export interface Put {
  row: Buffer
  columnValues: PutCell[]
  timestamp?: I64
  durability?: ttypes.TDurability
}

/** One row to delete: the whole row, or only the cells named in `columns`. */
export interface Delete {
  row: Buffer
  columns?: Array<{ family: Buffer, qualifier: Buffer }>
  /**
   * A whole row's delete covers the cells whose timestamp is at most this; the server's clock when absent, which
   * leaves cells written with a later timestamp in place.
   */
  timestamp?: I64
}

/** A scan as the gateway takes it (start row inclusive, stop row exclusive); see `TScan` in hbase/hbase.thrift. */
export type Scan = NonNullable<ConstructorParameters<typeof ttypes.TScan>[0]>

/**
 * A column family's settings. There are no `attributes`: the gateway reads them with `ByteBuffer.array()`, which
 * under a framed transport yields the whole request frame, so every typed field is used instead.
 */
export type FamilySpec = Omit<NonNullable<ConstructorParameters<typeof ttypes.TColumnFamilyDescriptor>[0]>, 'attributes'>

/** A filter that returns only the first key of each row, with no value: enough to see that a row is there. */
export const KEYS_ONLY = Buffer.from('FirstKeyOnlyFilter() AND KeyOnlyFilter()')

/** The default HBase namespace, as `TTableName.ns`. */
const DEFAULT_NAMESPACE = 'default'

/** Splits `ns:table` (or `table`, in the default namespace) into the gateway's table name. */
export function tableName (table: string): ttypes.TTableName {
  const colon = table.indexOf(':')
  const ns = colon < 0 ? DEFAULT_NAMESPACE : table.slice(0, colon)
  return new ttypes.TTableName({ ns: Buffer.from(ns), qualifier: Buffer.from(table.slice(colon + 1)) })
}

function tableNameText (name: ttypes.TTableName): string {
  const ns = name.ns?.toString() ?? DEFAULT_NAMESPACE
  const qualifier = name.qualifier.toString()
  return ns === DEFAULT_NAMESPACE ? qualifier : `${ns}:${qualifier}`
}

function checkOptions (options: HBaseClientOptions): FilledOptions {
  // An option given as undefined takes its default, as one left out does.
  const o = { ...kDefaultOptions, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) }
  if (typeof o.host !== 'string' || o.host === '') throw new TypeError('options.host must be a non-empty string')
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new RangeError('options.port must be an integer from 1 to 65535')
  if (!Number.isInteger(o.connectTimeoutMs) || o.connectTimeoutMs < 1) throw new RangeError('options.connectTimeoutMs must be a positive integer')
  if (!Number.isInteger(o.requestTimeoutMs) || o.requestTimeoutMs < 1) throw new RangeError('options.requestTimeoutMs must be a positive integer')
  return o
}

/** The server's message without the Java stack frames that HBase appends to it. */
function serverMessage (message: string | undefined): string {
  return (message ?? '').split('\n').filter(line => !line.startsWith('\tat ')).join(' ').trim()
}

function classify (method: string, err: unknown): HBaseError {
  if (err instanceof ttypes.TIOError) return new HBaseError('io', `${method}: ${serverMessage(err.message)}`, { cause: err })
  if (err instanceof ttypes.TIllegalArgument) return new HBaseError('illegal-argument', `${method}: ${serverMessage(err.message)}`, { cause: err })
  if (err instanceof thrift.Thrift.TApplicationException) {
    // HBase turns IOExceptions into TIOError; what reaches here is a runtime exception such as the
    // IllegalArgumentException of an empty row or a bad table name, which a retry would meet again.
    return new HBaseError('illegal-argument', `${method}: ${err.message} (the gateway's log has the Java exception)`, { cause: err })
  }
  return new HBaseError('io', `${method}: ${typeof err === 'string' ? err : String((err as Error)?.message ?? err)}`, { cause: err })
}

/** The generated client's members that the split-key workaround in `createTable` and `putMultipleFrame` use. */
interface GeneratedClientInternals {
  output: unknown
  /** Callbacks by sequence id; the connection hands each reply to `recv_<method>`, which calls and removes its callback. */
  _reqs: Record<number, (err: unknown) => void>
  /** Increments the client's sequence id and returns it. */
  new_seqid: () => number
}

/**
 * Stands in for the client's framed transport while `createTable` is sent, giving every split key a frame of
 * its own. HBase's gateway reads split keys with `ByteBuffer.array()` (ThriftUtilities.splitKeyFromThrift, still
 * so in 2.6), which returns the whole frame the key was read from: with one frame per request, two split keys
 * fail as duplicates and one is silently wrong. Its threaded server reads a message across frames, and a key
 * that is the whole of its frame comes out right whether the server copies it or wraps the frame.
 * The runtime's compact protocol passes each key to `write` as it is.
 */
class SplitKeyFramer {
  private readonly chunks: Buffer[] = []

  constructor (private readonly keys: Set<Buffer>, private readonly send: (frame: Buffer) => void) {}

  setCurrSeqId (): void {}

  write (chunk: Buffer | string): void {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  }

  flush (): void {
    let pending: Buffer[] = []
    const emit = (parts: Buffer[]): void => {
      const body = Buffer.concat(parts)
      if (body.length === 0) return
      const header = Buffer.alloc(4)
      header.writeInt32BE(body.length)
      this.send(Buffer.concat([header, body]))
    }
    for (const chunk of this.chunks) {
      if (this.keys.has(chunk)) {
        emit(pending)
        emit([chunk])
        pending = []
      } else {
        pending.push(chunk)
      }
    }
    emit(pending)
  }
}

interface Pending {
  method: string
  reject: (err: HBaseError) => void
  timer: NodeJS.Timeout
}

export class HBaseClient {
  private readonly client: THBaseService.Client
  private readonly pending = new Set<Pending>()
  private readonly address: string
  private readonly closed: Promise<void>
  private failure: HBaseError | undefined

  private constructor (private readonly connection: thrift.Connection, private readonly options: FilledOptions) {
    this.address = `${options.host}:${options.port}`
    this.client = thrift.createClient(THBaseService, connection)
    this.closed = new Promise(resolve => connection.once('close', () => {
      this.fail(new HBaseError('transport', `the connection to the HBase gateway at ${this.address} closed`))
      resolve()
    }))
    connection.on('error', (err: Error) => {
      this.fail(new HBaseError('transport', `the connection to the HBase gateway at ${this.address} failed: ${err.message}`, { cause: err }))
    })
  }

  /** Opens a connection to the gateway; rejects with kind `transport` or `timeout` when that fails. */
  static async connect (options: HBaseClientOptions = {}): Promise<HBaseClient> {
    const o = checkOptions(options)
    const address = `${o.host}:${o.port}`
    return await new Promise((resolve, reject) => {
      // Framed transport and compact protocol, as the gateway is started (-f -c). The flush writes its requests as
      // whole frames in native code (putMultipleFrame); the runtime writes the rest, which is small.
      const connection = thrift.createConnection(o.host, o.port, { transport: thrift.TFramedTransport, protocol: thrift.TCompactProtocol })
      const done = (err?: HBaseError): void => {
        clearTimeout(timer)
        connection.removeListener('connect', onConnect)
        connection.removeListener('error', onError)
        connection.removeListener('close', onClose)
        if (err == null) {
          resolve(new HBaseClient(connection, o))
        } else {
          connection.on('error', () => {})
          connection.destroy()
          reject(err)
        }
      }
      const onConnect = (): void => done()
      const onError = (err: Error): void => done(new HBaseError('transport', `could not connect to the HBase gateway at ${address}: ${err.message}`, { cause: err }))
      const onClose = (): void => done(new HBaseError('transport', `the HBase gateway at ${address} closed the connection`))
      const timer = setTimeout(() => done(new HBaseError('timeout', `could not connect to the HBase gateway at ${address} within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs)
      connection.once('connect', onConnect)
      connection.once('error', onError)
      connection.once('close', onClose)
    })
  }

  /** Connects, runs `use` with the client, and closes the connection however `use` ends. */
  static async using<T> (options: HBaseClientOptions, use: (client: HBaseClient) => Promise<T>): Promise<T> {
    const client = await HBaseClient.connect(options)
    try {
      return await use(client)
    } finally {
      await client.close()
    }
  }

  /** False once the connection has failed or been closed; every call then rejects with kind `transport`. */
  get isOpen (): boolean {
    return this.failure === undefined
  }

  /** Writes the rows in one request; keep it under the gateway's frame limit (2 MB by default). */
  async putMultiple (table: string, puts: Put[]): Promise<void> {
    const name = Buffer.from(table)
    await this.call<void>('putMultiple', done => this.client.putMultiple(name, puts as ttypes.TPut[], done))
  }

  /**
   * Sends a putMultiple request that is already written as a whole frame, as the native `PutRequests.frame` writes
   * it: `build` gets the sequence id to write into it. The reply is read and checked as for `putMultiple`.
   */
  async putMultipleFrame (build: (seqid: number) => Buffer): Promise<void> {
    await this.call<void>('putMultiple', done => {
      const generated = this.client as unknown as GeneratedClientInternals
      const seqid = generated.new_seqid()
      const frame = build(seqid)
      generated._reqs[seqid] = done
      this.connection.write(frame)
    })
  }

  async tableExists (table: string): Promise<boolean> {
    return await this.call<boolean>('tableExists', done => this.client.tableExists(tableName(table), done))
  }

  async getTableDescriptor (table: string): Promise<ttypes.TTableDescriptor> {
    return await this.call<ttypes.TTableDescriptor>('getTableDescriptor', done => this.client.getTableDescriptor(tableName(table), done))
  }

  /** Table names in a namespace, as `name` in the default namespace and `ns:name` elsewhere. */
  async getTableNamesByNamespace (namespace: string): Promise<string[]> {
    const names = await this.call<ttypes.TTableName[]>('getTableNamesByNamespace', done => this.client.getTableNamesByNamespace(namespace, done))
    return names.map(tableNameText)
  }

  /** Creates a table with one region more than there are split keys; rejects with kind `io` if it exists. */
  async createTable (table: string, families: FamilySpec[], splitKeys: Buffer[] = []): Promise<void> {
    const desc = new ttypes.TTableDescriptor({ tableName: tableName(table), columns: families.map(family) })
    // Copies, so that each key is a chunk the framer can recognise by identity and no other field shares it.
    const keys = splitKeys.map(key => Buffer.from(key))
    await this.call<void>('createTable', done => {
      const generated = this.client as unknown as GeneratedClientInternals
      const transport = generated.output
      generated.output = new SplitKeyFramer(new Set(keys), frame => this.connection.write(frame))
      try {
        this.client.createTable(desc, keys, done)
      } finally {
        generated.output = transport
      }
    })
  }

  /** Replaces a family's settings with `spec`: fields left out go back to HBase's defaults. */
  async addColumnFamily (table: string, spec: FamilySpec): Promise<void> {
    await this.call<void>('addColumnFamily', done => this.client.addColumnFamily(tableName(table), family(spec), done))
  }

  async modifyColumnFamily (table: string, spec: FamilySpec): Promise<void> {
    await this.call<void>('modifyColumnFamily', done => this.client.modifyColumnFamily(tableName(table), family(spec), done))
  }

  async getAllRegionLocations (table: string): Promise<ttypes.THRegionLocation[]> {
    return await this.call<ttypes.THRegionLocation[]>('getAllRegionLocations', done => this.client.getAllRegionLocations(Buffer.from(table), done))
  }

  /** One row with all its cells; a row that does not exist has no columnValues. */
  async get (table: string, row: Buffer): Promise<ttypes.TResult> {
    return await this.call<ttypes.TResult>('get', done => this.client.get(Buffer.from(table), new ttypes.TGet({ row }), done))
  }

  /**
   * For each row, whether it exists, in order: one get per row that reads only the row's first key. Not the
   * gateway's existsAll, which answered false for rows that exist on the HBase 2.6 gateway the suite runs.
   */
  async rowsExist (table: string, rows: Buffer[]): Promise<boolean[]> {
    const gets = rows.map(row => new ttypes.TGet({ row, filterString: KEYS_ONLY }))
    const results = await this.call<ttypes.TResult[]>('getMultiple', done => this.client.getMultiple(Buffer.from(table), gets, done))
    return results.map(r => (r.columnValues ?? []).length > 0)
  }

  /**
   * Deletes in one request: a delete without columns removes the whole row, one with columns those cells (every
   * version). Resolves with the deletes HBase did not apply, in order; empty when all were.
   */
  async deleteMultiple (table: string, deletes: Delete[]): Promise<ttypes.TDelete[]> {
    const tdeletes = deletes.map(d => new ttypes.TDelete({ row: d.row, columns: d.columns?.map(c => new ttypes.TColumn(c)), timestamp: d.timestamp as thrift.Int64 | undefined, deleteType: ttypes.TDeleteType.DELETE_COLUMNS }))
    return await this.call<ttypes.TDelete[]>('deleteMultiple', done => this.client.deleteMultiple(Buffer.from(table), tdeletes, done))
  }

  /** Opens a scanner, reads up to `numRows` rows and closes it, in one call. */
  async getScannerResults (table: string, scan: Scan, numRows: number): Promise<ttypes.TResult[]> {
    return await this.call<ttypes.TResult[]>('getScannerResults', done => this.client.getScannerResults(Buffer.from(table), new ttypes.TScan(scan), numRows, done))
  }

  /** Opens a scanner held by the gateway; read it with `getScannerRows` and always `closeScanner` it. */
  async openScanner (table: string, scan: Scan): Promise<number> {
    return await this.call<number>('openScanner', done => this.client.openScanner(Buffer.from(table), new ttypes.TScan(scan), done))
  }

  /** The scanner's next rows, at most `numRows`; an empty list means it is exhausted (a short one need not). */
  async getScannerRows (scannerId: number, numRows: number): Promise<ttypes.TResult[]> {
    return await this.call<ttypes.TResult[]>('getScannerRows', done => this.client.getScannerRows(scannerId, numRows, done))
  }

  async closeScanner (scannerId: number): Promise<void> {
    await this.call<void>('closeScanner', done => this.client.closeScanner(scannerId, done))
  }

  /** Closes the connection; calls still waiting reject with kind `transport`. Never rejects. */
  async close (): Promise<void> {
    this.fail(new HBaseError('transport', `the connection to the HBase gateway at ${this.address} was closed by the client`))
    await this.closed
  }

  private async call<T> (method: string, send: (done: (err: unknown, result?: T) => void) => void): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      if (this.failure !== undefined) {
        reject(new HBaseError('transport', `${method}: ${this.failure.message}`, { cause: this.failure }))
        return
      }
      const entry: Pending = {
        method,
        reject,
        timer: setTimeout(() => {
          this.pending.delete(entry)
          reject(new HBaseError('timeout', `${method}: no answer from the HBase gateway at ${this.address} within ${this.options.requestTimeoutMs} ms`))
          this.fail(new HBaseError('transport', `the connection to the HBase gateway at ${this.address} was closed after ${method} timed out`))
        }, this.options.requestTimeoutMs)
      }
      this.pending.add(entry)
      try {
        send((err, result) => {
          if (!this.pending.delete(entry)) return
          clearTimeout(entry.timer)
          if (err == null) resolve(result as T)
          else reject(classify(method, err))
        })
      } catch (err) {
        this.pending.delete(entry)
        clearTimeout(entry.timer)
        reject(new HBaseError('illegal-argument', `${method}: the request could not be encoded: ${(err as Error).message}`, { cause: err }))
        // The framed transport may hold the first part of this request, which would corrupt the next one.
        this.fail(new HBaseError('transport', `the connection to the HBase gateway at ${this.address} was closed after a request failed to encode`))
      }
    })
  }

  /** Marks the connection broken, rejects every waiting call and drops the socket; the first reason wins. */
  private fail (reason: HBaseError): void {
    if (this.failure !== undefined) return
    this.failure = reason
    for (const entry of this.pending) {
      clearTimeout(entry.timer)
      entry.reject(new HBaseError('transport', `${entry.method}: ${reason.message}`, { cause: reason }))
    }
    this.pending.clear()
    this.connection.destroy()
  }
}

/** The descriptor to send: without `attributes`, which a caller passing back a fetched descriptor would include. */
function family (spec: FamilySpec): ttypes.TColumnFamilyDescriptor {
  const { attributes: _attributes, ...typed } = spec as FamilySpec & { attributes?: unknown }
  return new ttypes.TColumnFamilyDescriptor(typed)
}
