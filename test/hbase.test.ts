// The HBase layer against a real local HBase: start and stop, schema, writes, the readers and how failures are classified.

import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { HBaseClient, HBaseError, type Put } from '../daemon/hbase/client'
import { countRows, scanPrefix, scanTimeRange } from '../daemon/hbase/reader'
import { ensureSchema, FAMILY } from '../daemon/hbase/schema'
import { LocalHBase } from '../daemon/dev/local-hbase'

// Apart from the development defaults and from the suite's shared instance (test/fixtures/hbase.ts).
const THRIFT_PORT = 19390
const hbaseDir = mkdtempSync(join(tmpdir(), 'spoor-hbase-test-'))
const hbase = new LocalHBase({ dir: hbaseDir, thriftPort: THRIFT_PORT, zkPort: 12481, basePort: 16400 })

const SALT = 4
const USER = 'hbase_test_user'
const TIME = 'hbase_test_time'
const FOREVER = 2147483647
const LONG_MAX = 0x7fffffffffffffffn
/** Event times: whole seconds in the last hour, so that no TTL the test sets expires them. */
const BASE = Math.floor(Date.now() / 1000) * 1000 - 3600000

function inv (ts: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(LONG_MAX - BigInt(ts))
  return b
}

const uid = (fill: number): Buffer => Buffer.alloc(16, fill)
const userKey = (salt: number, u: Buffer, ts: number, eid: string): Buffer => Buffer.concat([Buffer.from([salt]), u, inv(ts), Buffer.from(eid)])
const timeKey = (bucket: number, ts: number, u: Buffer, eid: string): Buffer => Buffer.concat([Buffer.from([bucket]), inv(ts), u, Buffer.from(eid)])

function put (row: Buffer, ts: number, cells: Record<string, string>): Put {
  const columnValues = Object.entries(cells).map(([q, v]) => ({ family: Buffer.from(FAMILY), qualifier: Buffer.from(q), value: Buffer.from(v), timestamp: ts }))
  return { row, columnValues }
}

async function connect (): Promise<HBaseClient> {
  return await HBaseClient.connect({ port: THRIFT_PORT, connectTimeoutMs: 5000, requestTimeoutMs: 60000 })
}

t.before(async () => {
  await hbase.start()
})

t.teardown(async () => {
  await hbase.stop()
  if (t.passing()) rmSync(hbaseDir, { recursive: true, force: true })
  else console.error(`# kept ${hbaseDir} for its logs`)
})

t.test('start is idempotent and status sees both JVMs', async t => {
  const started = Date.now()
  await hbase.start()
  t.ok(Date.now() - started < 5000, 'a second start returns without starting anything')
  const status = await hbase.status()
  t.ok(Number.isInteger(status.master) && Number.isInteger(status.thrift), 'both pids are known')
  t.equal(status.answering, true)
})

t.test('ensureSchema creates pre-split tables, then leaves them alone', async t => {
  const c = await connect()
  t.teardown(async () => { await c.close() })
  t.same(await ensureSchema(c, { userTable: USER, timeTable: TIME, saltBuckets: SALT }), { [USER]: 'created', [TIME]: 'created' })
  for (const table of [USER, TIME]) {
    const starts = (await c.getAllRegionLocations(table)).map(l => l.regionInfo.startKey?.toString('hex')).sort()
    t.same(starts, ['', '01', '02', '03'], `${table} has one region per salt value`)
    const family = (await c.getTableDescriptor(table)).columns?.find(f => f.name.toString() === FAMILY)
    t.match(family, { maxVersions: 1, bloomnFilterType: 1, timeToLive: FOREVER }, `${table} keeps one version, with a row bloom, forever`)
  }
  t.same(await ensureSchema(c, { userTable: USER, timeTable: TIME, saltBuckets: SALT }), { [USER]: 'unchanged', [TIME]: 'unchanged' })
})

t.test('ensureSchema brings an existing table to the wanted TTL', async t => {
  const c = await connect()
  t.teardown(async () => { await c.close() })
  const month = 30 * 86400
  t.same(await ensureSchema(c, { userTable: USER, timeTable: TIME, saltBuckets: SALT, ttlSeconds: month }), { [USER]: 'updated', [TIME]: 'updated' })
  const family = (await c.getTableDescriptor(USER)).columns?.find(f => f.name.toString() === FAMILY)
  t.match(family, { timeToLive: month, maxVersions: 1, bloomnFilterType: 1 }, 'the TTL changed and the other settings stayed')
  t.same(await ensureSchema(c, { userTable: USER, timeTable: TIME, saltBuckets: SALT, ttlSeconds: month }), { [USER]: 'unchanged', [TIME]: 'unchanged' })
  t.same(await ensureSchema(c, { userTable: USER, timeTable: TIME, saltBuckets: SALT, ttlSeconds: 0 }), { [USER]: 'updated', [TIME]: 'updated' }, 'TTL 0 is forever again')
})

const alice = uid(0x11)
const bob = uid(0x22)
// All 0xff, so that the end of its prefix needs a carry into the salt byte.
const carol = uid(0xff)

t.test('scanPrefix reads one user newest first', async t => {
  const c = await connect()
  t.teardown(async () => { await c.close() })
  const puts = [
    put(userKey(1, alice, BASE + 1000, 'a1'), BASE + 1000, { uid: 'alice', a: 'view' }),
    put(userKey(1, alice, BASE + 3000, 'a3'), BASE + 3000, { uid: 'alice', a: 'like' }),
    put(userKey(1, alice, BASE + 2000, 'a2'), BASE + 2000, { uid: 'alice', a: 'view', url: 'https://example.com/é' }),
    put(userKey(1, bob, BASE + 1500, 'b1'), BASE + 1500, { uid: 'bob', a: 'view' }),
    put(userKey(2, carol, BASE + 500, 'c1'), BASE + 500, { uid: 'carol', a: 'view' }),
    put(userKey(3, alice, BASE + 700, 'x1'), BASE + 700, { uid: 'other-salt', a: 'view' })
  ]
  await c.putMultiple(USER, puts)

  const rows = await scanPrefix(c, USER, Buffer.concat([Buffer.from([1]), alice]), 10)
  t.same(rows.map(r => r.ts), [BASE + 3000, BASE + 2000, BASE + 1000], 'newest first, only alice')
  t.same(rows[1].cells, { uid: 'alice', a: 'view', url: 'https://example.com/é' }, 'cells are qualifier to UTF-8 value')
  t.ok(rows[0].row.equals(userKey(1, alice, BASE + 3000, 'a3')), 'the rowkey comes back')
  t.same((await scanPrefix(c, USER, Buffer.concat([Buffer.from([1]), alice]), 2)).map(r => r.ts), [BASE + 3000, BASE + 2000], 'stops at the limit')
  t.same(await scanPrefix(c, USER, Buffer.concat([Buffer.from([1]), alice]), 0), [], 'limit 0 reads nothing')
  t.same((await scanPrefix(c, USER, Buffer.concat([Buffer.from([2]), carol]), 10)).map(r => r.cells.uid), ['carol'], 'a prefix ending in 0xff')
  t.same((await scanPrefix(c, USER, Buffer.from([1]), 10)).map(r => r.cells.uid), ['alice', 'alice', 'alice', 'bob'], 'a salt alone is a prefix too')
})

t.test('scanTimeRange merges the buckets newest first, bounds included', async t => {
  const c = await connect()
  t.teardown(async () => { await c.close() })
  // Twelve events a second apart, spread over the buckets in turn, and two more at one instant in two buckets.
  const puts: Put[] = []
  for (let k = 0; k < 12; k++) {
    const ts = BASE + k * 1000
    puts.push(put(timeKey(k % SALT, ts, k % 2 === 0 ? alice : bob, `e${k}`), ts, { k: String(k) }))
  }
  puts.push(put(timeKey(3, BASE + 20000, bob, 'tie'), BASE + 20000, { k: 'tie-bob' }))
  puts.push(put(timeKey(0, BASE + 20000, alice, 'tie'), BASE + 20000, { k: 'tie-alice' }))
  await c.putMultiple(TIME, puts)

  const ks = async (from: number, to: number, limit: number): Promise<string[]> => (await scanTimeRange(c, TIME, SALT, from, to, limit)).map(r => r.cells.k)
  t.same(await ks(BASE + 2000, BASE + 9000, 100), ['9', '8', '7', '6', '5', '4', '3', '2'], 'both ends are inside the range')
  t.same(await ks(BASE + 2000, BASE + 9000, 3), ['9', '8', '7'], 'the limit keeps the newest')
  t.same(await ks(BASE + 5000, BASE + 5000, 10), ['5'], 'a range of one instant')
  t.same(await ks(BASE + 1, BASE + 999, 10), [], 'nothing between two events')
  t.same(await ks(BASE + 11000, BASE + 30000, 10), ['tie-alice', 'tie-bob', '11'], 'same instant: ordered by the key after the time')
  t.same(await ks(0, Number.MAX_SAFE_INTEGER, 100), ['tie-alice', 'tie-bob', '11', '10', '9', '8', '7', '6', '5', '4', '3', '2', '1', '0'], 'the widest range reads everything')
  const rows = await scanTimeRange(c, TIME, SALT, BASE, BASE, 1)
  t.equal(rows[0].ts, BASE, 'ts is the cell timestamp')
})

t.test('countRows counts every row', async t => {
  const c = await connect()
  t.teardown(async () => { await c.close() })
  t.equal(await countRows(c, USER), 6)
  t.equal(await countRows(c, TIME), 14)
  t.equal((await c.getScannerResults(TIME, {}, 100)).length, 14, 'getScannerResults reads them in one call')
})

t.test('failures carry a kind', async t => {
  const c = await connect()
  t.teardown(async () => { await c.close() })
  const cell = { qualifier: Buffer.from('a'), value: Buffer.from('x'), timestamp: BASE }
  await t.rejects(c.putMultiple(USER, [{ row: Buffer.from('r'), columnValues: [{ family: Buffer.from('nope'), ...cell }] }]),
    { name: 'HBaseError', kind: 'io', message: /NoSuchColumnFamilyException/ }, 'a missing family is an io error naming it')
  await t.rejects(c.putMultiple('hbase_test_missing', [{ row: Buffer.from('r'), columnValues: [{ family: Buffer.from(FAMILY), ...cell }] }]),
    { kind: 'io', message: /hbase_test_missing/ }, 'a missing table is an io error')
  await t.rejects(c.putMultiple(USER, [{ row: Buffer.alloc(0), columnValues: [{ family: Buffer.from(FAMILY), ...cell }] }]),
    { name: 'HBaseError', kind: 'illegal-argument' }, 'an empty row is refused for good')
  await t.rejects(c.createTable(USER, [{ name: Buffer.from(FAMILY) }]), { kind: 'io', message: /TableExistsException/ })
  t.equal(c.isOpen, true, 'a refused request leaves the connection usable')
  t.equal(await c.tableExists(USER), true)
  await t.rejects(c.putMultiple(USER, [{ row: Buffer.from('r'), columnValues: [{ family: Buffer.from(FAMILY), qualifier: Buffer.from('a'), value: 42 as unknown as Buffer }] }]),
    { kind: 'illegal-argument', message: /could not be encoded/ }, 'a request that cannot be encoded')
  t.equal(c.isOpen, false, 'and then the connection is closed, since it may hold part of that request')
  await t.rejects(c.tableExists(USER), { name: 'HBaseError', kind: 'transport' })
})

t.test('a call the server never answers times out and closes the connection', async t => {
  const sockets: Socket[] = []
  const silent = createServer(s => { sockets.push(s) })
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    silent.close()
  })
  const c = await HBaseClient.connect({ port: (silent.address() as AddressInfo).port, requestTimeoutMs: 200 })
  const first = c.tableExists(USER)
  const second = c.tableExists(TIME)
  await t.rejects(first, { kind: 'timeout', message: /within 200 ms/ })
  await t.rejects(second, { name: 'HBaseError', kind: 'transport' }, 'the call queued behind it fails too')
  t.equal(c.isOpen, false)
  await c.close()
})

t.test('connecting to nothing fails with kind transport', async t => {
  const closed = createServer()
  await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as AddressInfo).port
  await new Promise(resolve => closed.close(resolve))
  await t.rejects(HBaseClient.connect({ port }), { name: 'HBaseError', kind: 'transport', message: /ECONNREFUSED/ })
})

t.test('a stopped HBase fails calls within seconds; a new start has the data', async t => {
  const c = await connect()
  t.teardown(async () => { await c.close() })
  await hbase.stop()
  t.same(await hbase.status(), { master: undefined, thrift: undefined, answering: false })
  t.equal(c.isOpen, false, 'the client saw the gateway go')
  const asked = Date.now()
  const err = await c.tableExists(USER).catch((e: unknown) => e)
  t.ok(err instanceof HBaseError && ['transport', 'timeout'].includes(err.kind), 'the call fails with kind transport or timeout')
  t.ok(Date.now() - asked < 5000, 'and fails at once')
  await t.rejects(connect(), { name: 'HBaseError', kind: 'transport' }, 'a new connection is refused')

  await hbase.start()
  const again = await connect()
  t.teardown(async () => { await again.close() })
  t.equal(await countRows(again, USER), 6, 'every row written before the stop is there')
  await again.putMultiple(USER, [put(userKey(1, alice, BASE + 4000, 'a4'), BASE + 4000, { uid: 'alice', a: 'after' })])
  t.equal((await scanPrefix(again, USER, Buffer.concat([Buffer.from([1]), alice]), 1))[0].cells.a, 'after', 'and writes work again')
})

t.test('options are checked', async t => {
  t.throws(() => new LocalHBase({ dir: '' }), new TypeError('options.dir must be a non-empty string'))
  t.throws(() => new LocalHBase({ dir: 'x', thriftPort: 0 }), new RangeError('options.thriftPort must be an integer from 1 to 65535'))
  t.throws(() => new LocalHBase({ dir: 'x', zkPort: 70000 }), new RangeError('options.zkPort must be an integer from 1 to 65535'))
  t.throws(() => new LocalHBase({ dir: 'x', basePort: 1.5 }), new RangeError('options.basePort must be an integer from 1 to 65535'))
  t.throws(() => new LocalHBase({ dir: 'x', masterPort: -1 }), new RangeError('options.masterPort must be an integer from 1 to 65535'))
  t.throws(() => new LocalHBase({ dir: 'x', basePort: 65530 }), new RangeError('options.regionServerPort must be an integer from 1 to 65535'))
  t.throws(() => new LocalHBase({ dir: 'x', zkPort: 9090 }), new RangeError('options.thriftPort, zkPort, masterPort and regionServerPort must all differ'))
  t.throws(() => new LocalHBase({ dir: 'x', heapMb: 100 }), new RangeError('options.heapMb must be an integer of at least 256'))
  t.throws(() => new LocalHBase({ dir: 'x', thriftHeapMb: 64 }), new RangeError('options.thriftHeapMb must be an integer of at least 128'))
  t.throws(() => new LocalHBase({ dir: 'x', startTimeoutMs: 0 }), new RangeError('options.startTimeoutMs must be a positive integer'))
  t.throws(() => new LocalHBase({ dir: 'x', stopTimeoutMs: -5 }), new RangeError('options.stopTimeoutMs must be a positive integer'))
  t.throws(() => new LocalHBase({ dir: 'x', java: '' }), new TypeError('options.java must be a non-empty string'))

  await t.rejects(HBaseClient.connect({ host: '' }), new TypeError('options.host must be a non-empty string'))
  await t.rejects(HBaseClient.connect({ port: 65536 }), new RangeError('options.port must be an integer from 1 to 65535'))
  await t.rejects(HBaseClient.connect({ connectTimeoutMs: 0 }), new RangeError('options.connectTimeoutMs must be a positive integer'))
  await t.rejects(HBaseClient.connect({ requestTimeoutMs: 2.5 }), new RangeError('options.requestTimeoutMs must be a positive integer'))

  const c = await connect()
  t.teardown(async () => { await c.close() })
  const tables = { userTable: USER, timeTable: TIME }
  await t.rejects(ensureSchema(c, { ...tables, userTable: '', saltBuckets: 4 }), new TypeError('options.userTable must be a non-empty string'))
  await t.rejects(ensureSchema(c, { ...tables, timeTable: '', saltBuckets: 4 }), new TypeError('options.timeTable must be a non-empty string'))
  await t.rejects(ensureSchema(c, { userTable: USER, timeTable: USER, saltBuckets: 4 }), new RangeError('options.userTable and options.timeTable must differ'))
  await t.rejects(ensureSchema(c, { ...tables, saltBuckets: 257 }), new RangeError('options.saltBuckets must be an integer from 1 to 256'))
  await t.rejects(ensureSchema(c, { ...tables, saltBuckets: 4, ttlSeconds: -1 }), new RangeError('options.ttlSeconds must be an integer from 0 to 2147483647'))
  await t.rejects(scanPrefix(c, USER, Buffer.alloc(0), -1), new RangeError('limit must be a non-negative integer'))
  await t.rejects(scanTimeRange(c, TIME, 0, 0, 1, 1), new RangeError('saltBuckets must be an integer from 1 to 256'))
  await t.rejects(scanTimeRange(c, TIME, 4, -1, 1, 1), new RangeError('fromMs must be a non-negative integer'))
  await t.rejects(scanTimeRange(c, TIME, 4, 2, 1, 1), new RangeError('toMs must be an integer no less than fromMs'))
})
