// A framed transport that writes each request into one growable buffer, and a compact protocol that writes its hot primitives straight into it.

import thrift = require('thrift')

/*
 * Why: the npm runtime's TCompactProtocol allocates a Buffer for every byte and varint it writes, and its
 * TFramedTransport keeps them in an array and copies them twice on flush; a putMultiple of 250 events is some
 * 40 000 small Buffers. Here the protocol overrides only the methods that turn one value into bytes, and writes
 * those bytes into the transport's buffer with the runtime's own arithmetic. Everything that decides which
 * values to write (message and field headers, field-id deltas, booleans, list headers, struct nesting) stays the
 * runtime's, so the bytes are the runtime's bytes; test/thrift-writer.test.ts compares the two.
 *
 * Reading is untouched: the connection reads replies through `TFramedTransport.receiver`, which this transport
 * inherits and which hands each reply frame to the protocol in a stock TFramedTransport. A protocol whose
 * transport is not a BufferFramedTransport (a reply, or createTable's split-key framer in hbase-client.ts,
 * which needs each key passed to `write` as it is) takes the runtime's path for every method.
 */

/** Bytes a new transport's buffer starts with; it doubles as needed and keeps its size for later requests. */
const kInitialBytes = 64 * 1024

/** The frame length that precedes each frame, a big-endian int32. */
const kHeaderBytes = 4

const TWO_POW_32 = 2 ** 32

/** A framed transport whose writes go into one buffer; `flush` hands the connection a fresh Buffer per frame. */
export class BufferFramedTransport extends thrift.TFramedTransport {
  /** Set by the runtime's `setCurrSeqId`, passed on with the frame as its own `flush` does. */
  declare _seqid: number | null | undefined
  declare onFlush: thrift.TTransportCallback | undefined

  private out: Buffer
  /** Where the next byte goes; the first `kHeaderBytes` are kept for the frame length. */
  private pos = kHeaderBytes

  /** `initialBytes` is for tests; the client takes the default. */
  constructor (buffer?: Buffer, callback?: thrift.TTransportCallback, initialBytes = kInitialBytes) {
    super(buffer, callback)
    this.out = Buffer.allocUnsafe(Math.max(initialBytes, kHeaderBytes))
  }

  write (chunk: Buffer | Uint8Array | string, encoding?: BufferEncoding): void {
    if (typeof chunk === 'string') this.putString(chunk, Buffer.byteLength(chunk, encoding ?? 'utf8'), encoding ?? 'utf8')
    else this.putBytes(chunk)
  }

  flush (): void {
    const seqid = this._seqid
    this._seqid = null
    this.out.writeInt32BE(this.pos - kHeaderBytes, 0)
    // A copy, because the socket may still hold the frame when the next request is written.
    const frame = Buffer.allocUnsafe(this.pos)
    this.out.copy(frame, 0, 0, this.pos)
    this.pos = kHeaderBytes
    this.onFlush?.(frame, seqid ?? undefined)
  }

  putByte (b: number): void {
    if (this.pos === this.out.length) this.grow(1)
    this.out[this.pos++] = b
  }

  /** TCompactProtocol.writeVarint32's loop: `n` as an unsigned varint of its low 32 bits, 1–5 bytes. */
  putVarint32 (n: number): void {
    if (this.pos + 5 > this.out.length) this.grow(5)
    const out = this.out
    let pos = this.pos
    while ((n & ~0x7f) !== 0) {
      out[pos++] = (n & 0x7f) | 0x80
      n = n >>> 7
    }
    out[pos++] = n
    this.pos = pos
  }

  /** TCompactProtocol.writeVarint64's loop on the two unsigned 32-bit halves, 1–10 bytes. */
  putVarint64 (hi: number, lo: number): void {
    if (this.pos + 10 > this.out.length) this.grow(10)
    const out = this.out
    let pos = this.pos
    while ((lo & ~0x7f) !== 0 || hi !== 0) {
      out[pos++] = (lo & 0x7f) | 0x80
      lo = (lo >>> 7) | (hi << 25)
      hi = hi >>> 7
    }
    out[pos++] = lo
    this.pos = pos
  }

  putBytes (bytes: Uint8Array): void {
    const length = bytes.length
    if (this.pos + length > this.out.length) this.grow(length)
    this.out.set(bytes, this.pos)
    this.pos += length
  }

  /** Writes `text`, whose length in `encoding` is `length` bytes. */
  putString (text: string, length: number, encoding: BufferEncoding): void {
    if (this.pos + length > this.out.length) this.grow(length)
    this.out.write(text, this.pos, length, encoding)
    this.pos += length
  }

  private grow (needed: number): void {
    let size = this.out.length * 2
    while (size < this.pos + needed) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.out.copy(next, 0, 0, this.pos)
    this.out = next
  }
}

/** The runtime's TCompactProtocol members that @types/thrift leaves out. */
interface CompactProtocolInternals {
  writeStringOrBinary (name: string, encoding: BufferEncoding, arg: unknown): void
  writeVarint32 (n: number): void
  writeVarint64 (n: number | thrift.Int64): void
}

const CompactProtocol = thrift.TCompactProtocol as unknown as new (trans: thrift.TTransport) => thrift.TCompactProtocol & CompactProtocolInternals

/** TCompactProtocol, writing bytes, varints, i64s and binaries straight into a BufferFramedTransport. */
export class BufferCompactProtocol extends CompactProtocol {
  /** The transport to write into directly; undefined when the runtime's path is taken (see the top comment). */
  private readonly direct: BufferFramedTransport | undefined

  constructor (trans: thrift.TTransport) {
    super(trans)
    this.direct = trans instanceof BufferFramedTransport ? trans : undefined
  }

  writeByte (b: number): void {
    if (this.direct === undefined) super.writeByte(b)
    else this.direct.putByte(b)
  }

  writeVarint32 (n: number): void {
    if (this.direct === undefined) super.writeVarint32(n)
    else this.direct.putVarint32(n)
  }

  writeVarint64 (n: number | thrift.Int64): void {
    // A number becomes a node-int64 first, which checks its range; that stays the runtime's.
    if (this.direct === undefined || !(n instanceof thrift.Int64)) super.writeVarint64(n)
    else this.direct.putVarint64(n.buffer.readUInt32BE(0), n.buffer.readUInt32BE(4))
  }

  /**
   * The runtime's i64ToZigzag and writeVarint64 without the two node-int64s they allocate. Like the runtime, a
   * node-int64 is read from the start of its buffer whatever its offset. Numbers that are not safe integers,
   * strings and anything else take the runtime's path and its errors.
   */
  writeI64 (i64: number | thrift.Int64): void {
    const direct = this.direct
    if (direct === undefined) {
      super.writeI64(i64)
    } else if (typeof i64 === 'number' && Number.isSafeInteger(i64)) {
      // zigzag(n) is 2n for n >= 0 and 2(-n - 1) + 1 below; -n - 1 keeps it exact up to 2^53 - 1.
      const negative = i64 < 0
      const v = negative ? -i64 - 1 : i64
      const hi = Math.floor(v / TWO_POW_32)
      const lo = v >>> 0
      direct.putVarint64(((hi << 1) | (lo >>> 31)) >>> 0, ((lo << 1) | (negative ? 1 : 0)) >>> 0)
    } else if (i64 instanceof thrift.Int64) {
      const hi = i64.buffer.readUInt32BE(0)
      const lo = i64.buffer.readUInt32BE(4)
      const sign = hi >>> 31 === 1 ? -1 : 0
      direct.putVarint64((((hi << 1) | (lo >>> 31)) ^ sign) >>> 0, ((lo << 1) ^ sign) >>> 0)
    } else {
      super.writeI64(i64)
    }
  }

  writeStringOrBinary (name: string, encoding: BufferEncoding, arg: unknown): void {
    const direct = this.direct
    if (direct === undefined) {
      super.writeStringOrBinary(name, encoding, arg)
    } else if (typeof arg === 'string') {
      const length = Buffer.byteLength(arg, encoding)
      direct.putVarint32(length)
      direct.putString(arg, length, encoding)
    } else if (arg instanceof Buffer || Object.prototype.toString.call(arg) === '[object Uint8Array]') {
      const bytes = arg as Uint8Array
      direct.putVarint32(bytes.length)
      direct.putBytes(bytes)
    } else {
      super.writeStringOrBinary(name, encoding, arg)
    }
  }
}
