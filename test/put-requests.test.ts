// The native PutRequests against the generated Thrift client: the same bytes, request by request, for both event
// tables and the identity links; its refusals; and HBaseClient against a stock-runtime Thrift server.

import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import Int64 from 'node-int64'
import t from 'tap'
import thrift = require('thrift')
import { defaults } from '../daemon/config'
import { HBaseClient, HBaseError } from '../daemon/hbase/client'
import { LINK_FAMILY } from '../daemon/hbase/schema'
import { Encoder, encoderOptions, PutRequests, putRequests } from '../daemon/native'
import { decodeBatch, FAMILY, QUALIFIERS, storedCells, type EncodedEvent } from './reference/batch'
import THBaseService = require('../daemon/hbase/thrift-gen/THBaseService')
import { linkRows } from './reference/links'
import ttypes = require('../daemon/hbase/thrift-gen/hbase_types')

type Client = InstanceType<typeof THBaseService.Client>

/** The reference: the npm runtime's framed transport and compact protocol. */
const stock = { transport: (onFlush: thrift.TTransportCallback) => new thrift.TFramedTransport(undefined, onFlush), protocol: thrift.TCompactProtocol }

/** The frames `send` flushes through one pair, as a connection would pass them to the socket. */
function frames (pair: typeof stock, send: (client: Client) => void): Buffer[] {
  const out: Buffer[] = []
  const client = new THBaseService.Client(pair.transport(msg => out.push(msg!)), pair.protocol)
  send(client)
  return out
}

const none = (): void => {}

/** The flush's native call on a batch that is format v1: its requests. */
function requestsOf (batch: Buffer, maxRequestBytes: number, saltBuckets: number, dropBots?: boolean, appPlatforms?: string[]): PutRequests {
  const r = putRequests(batch, maxRequestBytes, saltBuckets, dropBots, appPlatforms)
  if (!(r instanceof PutRequests)) throw new Error(`rejected: ${r.reason}`)
  return r
}
const family = Buffer.from(FAMILY)
const qualifiers = QUALIFIERS.map(q => Buffer.from(q))

/** As the flush worker builds them; `appPlatforms` is `enrich.app_platforms`. */
function toPut (row: Buffer, event: EncodedEvent, appPlatforms: string[] = []): ttypes.TPut {
  const timestamp = new Int64(event.ts)
  const columnValues = storedCells(event, appPlatforms).map(([q, value]) => new ttypes.TColumnValue({ family, qualifier: qualifiers[q], value, timestamp }))
  return new ttypes.TPut({ row, columnValues, timestamp })
}

/** A batch from the native encoder, with varied users, lengths and non-ASCII text. */
function realisticEvents (n: number): EncodedEvent[] {
  return decodeBatch(realisticBatch(n))
}

function realisticBatch (n: number): Buffer {
  const encoder = new Encoder(encoderOptions(defaults()))
  const uidOut = Buffer.alloc(32)
  const ip = Uint8Array.from([203, 0, 113, 7]).buffer
  for (let i = 0; i < n; i++) {
    const d = encodeURIComponent(JSON.stringify({ i, note: 'é€😀'.repeat(i % 40) }))
    const query = `uid=u${i % 17}&sid=s${i}&p=site-a&a=view&url=https%3A%2F%2Fsite-a.example%2Fq%2F${i}&it=q${i}&ch=databases&ct=${1764000000000 + i}&d=${d}`
    encoder.pixel(query, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120', 'https://site-a.example/', '', ip, 1764000000000 + i * 997, uidOut)
  }
  return encoder.takeBatch()!
}

/** A row's cells as plain values, for comparing what was read with what was written. */
function cells (r: { row?: Buffer, columnValues: ttypes.TColumnValue[], timestamp?: Int64 }): unknown[] {
  const n = (x: unknown): unknown => x instanceof Int64 ? x.toNumber() : x
  return [r.row, r.columnValues.map(c => [c.family, c.qualifier, c.value, n(c.timestamp)]), n(r.timestamp)]
}

function cell (value: Buffer, timestamp?: number | Int64, qualifier = 'q'): ttypes.TColumnValue {
  return new ttypes.TColumnValue({ family, qualifier: Buffer.from(qualifier), value, timestamp: timestamp as Int64 })
}

function slicesOf (events: EncodedEvent[], maxBytes: number): EncodedEvent[][] {
  const out: EncodedEvent[][] = []
  let current: EncodedEvent[] = []
  let bytes = 0
  for (const e of events) {
    const size = e.size + e.fields.length * 16 + storedCells(e).slice(e.fields.length).reduce((n, [q, v]) => n + QUALIFIERS[q].length + v.length + 16, 0)
    if (current.length > 0 && bytes + size > maxBytes) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push(e)
    bytes += size
  }
  if (current.length > 0) out.push(current)
  return out
}

/** The generated client's frame for `puts`, sent with sequence id `seqid`. */
function stockFrame (table: string, puts: ttypes.TPut[], seqid: number): Buffer {
  const [frame] = frames(stock, c => {
    (c as unknown as { _seqid: number })._seqid = seqid - 1
    c.putMultiple(Buffer.from(table), puts, none)
  })
  return frame
}


t.test('the native PutRequests writes the generated client\'s bytes, request by request', async t => {
  const batch = realisticBatch(250)
  const events = decodeBatch(batch)
  for (const maxBytes of [4 * 1024 * 1024, 20000, 1]) {
    const requests = requestsOf(batch, maxBytes, 16)
    const slices = slicesOf(events, maxBytes)
    t.equal(requests.events, 250)
    t.equal(requests.requests, slices.length, `${maxBytes} bytes: ${slices.length} requests`)
    slices.forEach((slice, i) => {
      for (const seqid of [1, 127, 128, 300, 2 ** 31 - 1]) {
        const user = requests.frame(i, Buffer.from('spoor_user'), false, seqid)
        const time = requests.frame(i, Buffer.from('spoor_time'), true, seqid)
        if (!user.equals(stockFrame('spoor_user', slice.map(e => toPut(e.userKey, e)), seqid))) t.fail(`${maxBytes} bytes, request ${i}, seqid ${seqid}: user frame differs`)
        if (!time.equals(stockFrame('spoor_time', slice.map(e => toPut(e.timeKey, e)), seqid))) t.fail(`${maxBytes} bytes, request ${i}, seqid ${seqid}: time frame differs`)
      }
    })
    t.pass(`${maxBytes} bytes: every frame equals the generated client's`)
  }
  t.throws(() => requests0().frame(1, Buffer.from('t'), false, 1), { message: /request 1 of 1/ })

  function requests0 (): PutRequests {
    return requestsOf(realisticBatch(1), 1000, 16)
  }
})

t.test('the native PutRequests flags an HTTP library\'s agent as the reference does, on and off app platforms', async t => {
  const apps = ['android', 'mob']
  const encoder = new Encoder(encoderOptions(defaults()))
  const uidOut = Buffer.alloc(32)
  const ip = Uint8Array.from([203, 0, 113, 7]).buffer
  const d = (platform: string): string => `d=${encodeURIComponent(JSON.stringify({ e: 'pv', platform }))}`
  const cases: Array<[string, string, string]> = [
    ['p=android', 'okhttp/4.12.0', ''],
    ['p=web', 'okhttp/4.12.0', '1'],
    [`p=shop-android&${d('mob')}`, 'okhttp/4.12.0', ''],
    [`p=shop-site&${d('web')}`, 'Java/17.0.15', '1'],
    ['p=android', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', '1'],
    ['p=ios', 'Shop/1.0 CFNetwork/1410.0.3 Darwin/22.6.0', '']
  ]
  cases.forEach(([query, ua], i) => encoder.pixel(`uid=u${i}&a=open&${query}`, ua, '', '', ip, 1764000000000 + i, uidOut))
  const batch = encoder.takeBatch()!
  const events = decodeBatch(batch)
  const bots = events.map(e => storedCells(e, apps).find(([q]) => QUALIFIERS[q] === 'bot')?.[1].toString() ?? '')
  t.same(bots, cases.map(c => c[2]), 'the reference\'s bot flags')
  const requests = requestsOf(batch, 4 * 1024 * 1024, 16, false, apps)
  t.ok(requests.frame(0, Buffer.from('spoor_user'), false, 1).equals(stockFrame('spoor_user', events.map(e => toPut(e.userKey, e, apps)), 1)), 'the frame equals the generated client\'s')
  t.equal(requestsOf(batch, 4 * 1024 * 1024, 16, true, apps).droppedBots, 3)
  t.equal(requestsOf(batch, 4 * 1024 * 1024, 16, true).droppedBots, 5, 'without app platforms every HTTP library is a bot, as isbot says')
})

t.test('the native PutRequests writes the identity links the reference gives, as the generated client would', async t => {
  const config = defaults()
  config.identity.fingerprint = true
  const encoder = new Encoder(encoderOptions(config))
  const uidOut = Buffer.alloc(32)
  const ip = Uint8Array.from([203, 0, 113, 7]).buffer
  const queries = [
    'uid=c1&p=web&vid=v1&sto=s1&eti=e1&fp=f&lid=alice&a=page',
    'uid=c1&p=web&vid=v1&a=ping',
    'uid=c1&p=app&lid=alice&a=identify',
    'uid=c2&p=web&vid=v2&lnk=v1',
    'uid=c3&p=web&a=page',
    'uid=c%C3%A9&vid=v%E2%82%AC'
  ]
  queries.forEach((q, i) => encoder.pixel(q, 'UA', '', '', ip, 1764000000000 + i * 1000, uidOut))
  const batch = encoder.takeBatch()!
  const want = linkRows(decodeBatch(batch), 16)
  t.equal(want.length, 10, 'u:c1 v:v1 s:s1 e:e1 f:… l:alice, u:c2 v:v2 (v:v1 again), u:cé v:v€')
  const linkFamily = Buffer.from(LINK_FAMILY)
  const toLinkPut = (r: typeof want[number]): ttypes.TPut => new ttypes.TPut({
    row: r.row,
    columnValues: r.cells.map(c => new ttypes.TColumnValue({ family: linkFamily, qualifier: c.qualifier, value: c.platform, timestamp: new Int64(c.ts) }))
  })
  for (const maxBytes of [1 << 20, 200, 1]) {
    const requests = requestsOf(batch, maxBytes, 16)
    const got: Buffer[] = []
    for (let i = 0; i < requests.linkRequests; i++) got.push(requests.linkFrame(i, Buffer.from('spoor_identity'), 7))
    // Rebuild the same cut from the request count: rows are whole, in order, each request at least one.
    let at = 0
    for (const frame of got) {
      let match = false
      for (let end = at + 1; end <= want.length && !match; end++) {
        if (frame.equals(stockFrame('spoor_identity', want.slice(at, end).map(toLinkPut), 7))) {
          match = true
          at = end
        }
      }
      if (!match) t.fail(`${maxBytes} bytes: a link frame is not the generated client's for the next rows`)
    }
    t.equal(at, want.length, `${maxBytes} bytes: ${got.length} link requests carry all ${want.length} rows as the generated client writes them`)
  }
  t.equal(requestsOf(realisticBatch(5), 1000, 16).linkRequests, 0, 'events with only a uid link nothing')
  for (const n of [0, 257, 1.5]) t.throws(() => putRequests(batch, 1000, n), { message: 'saltBuckets must be an integer from 1 to 256' }, `saltBuckets ${n}`)
})

t.test('the flush\'s native call answers a batch that is not format v1 with a BatchRejected, giving the reason the decoder gives', async t => {
  const batch = realisticBatch(3)
  const cases: Array<[string, Buffer]> = [
    ['bad header', Buffer.concat([Buffer.from('XXXX'), batch.subarray(4)])],
    ['trailing bytes', Buffer.concat([batch, Buffer.from([0])])],
    ['record 2 is cut short', batch.subarray(0, batch.length - 3)]
  ]
  for (const [reason, bad] of cases) {
    const rejected = putRequests(bad, 1000, 16)
    t.notOk(rejected instanceof PutRequests, `${reason}: a typed rejection, not requests`)
    t.same(rejected, { reason: `batch is not format v1: ${reason}` })
    t.throws(() => decodeBatch(bad), { message: `batch is not format v1: ${reason}` })
  }
})


t.test('HBaseClient against a stock-runtime Thrift server', async t => {
  const received: ttypes.TPut[][] = []
  const handler = {
    putMultiple (_table: Buffer, puts: ttypes.TPut[], result: (err: unknown) => void) {
      received.push(puts)
      result(null)
    },
    getScannerRows (_id: number, _rows: number, result: (err: unknown, rows?: ttypes.TResult[]) => void) {
      result(null, [new ttypes.TResult({ row: Buffer.from('r'), columnValues: [cell(Buffer.from('v'), 9)] })])
    },
    tableExists (_name: ttypes.TTableName, result: (err: unknown) => void) {
      result(new ttypes.TIOError({ message: 'region moving' }))
    }
  }
  const server = thrift.createServer(THBaseService.Processor as never, handler, { transport: thrift.TFramedTransport, protocol: thrift.TCompactProtocol })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const client = await HBaseClient.connect({ port: (server.address() as AddressInfo).port })
  t.teardown(async () => await client.close())

  const events = realisticEvents(250)
  const puts = events.map(e => toPut(e.userKey, e))
  await client.putMultiple('t', puts)
  await client.putMultiple('t', [])
  t.same(received[0].map(cells), puts.map(cells), 'the server reads what was sent')
  t.equal(received[1].length, 0)
  const rows = await client.getScannerRows(1, 10)
  t.same(rows.map(r => r.row?.toString()), ['r'], 'the reply is read')
  await t.rejects(client.tableExists('t'), { kind: 'io', permanent: false, message: 'tableExists: region moving' }, 'exceptions are classified as before')
  t.ok(client.isOpen, 'the connection stays usable')
  t.same(await client.getScannerRows(1, 10).then(r => r.length), 1)
})

t.test('an HBaseError says whether retrying the same request can succeed', async t => {
  const cases: Array<[HBaseError, boolean]> = [
    [new HBaseError('io', 'putMultiple: org.apache.hadoop.hbase.regionserver.NoSuchColumnFamilyException: Column family x does not exist'), true],
    [new HBaseError('io', 'putMultiple: KeyValue size too large'), true],
    [new HBaseError('io', 'putMultiple: Cell with size 20971600 exceeds limit of 10485760 bytes'), true],
    [new HBaseError('io', 'putMultiple: org.apache.hadoop.hbase.TableNotFoundException: t'), false],
    [new HBaseError('io', 'putMultiple: region moving'), false],
    [new HBaseError('illegal-argument', 'putMultiple: row is empty'), true],
    [new HBaseError('transport', 'the connection closed'), false],
    [new HBaseError('timeout', 'no answer within 10000 ms'), false]
  ]
  for (const [err, permanent] of cases) t.equal(err.permanent, permanent, `${err.kind}: ${err.message}`)
})
