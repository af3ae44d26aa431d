// Server-side sessions: batches of the real encoder through Sessions, read back with the JS decoder, and sessions on the real collector and HBase.

import t from 'tap'
import { xxh3 } from '@node-rs/xxhash'
import { HBaseClient } from '../daemon/hbase/client'
import { scanPrefix } from '../daemon/hbase/reader'
import { decodeBatch, eventCells } from './reference/batch'
import { Encoder, encoderOptions, Sessions, sessionOptions, userRowPrefix, type SessionOptions } from '../daemon/native'
import { defaults } from '../daemon/config'
import { flushed, startDaemon } from './fixtures/daemon'
import { freshTables, SALT_BUCKETS, THRIFT_PORT } from './fixtures/hbase'
import { uid16 } from './reference/encoder'

const options: SessionOptions = sessionOptions(defaults())
const ip = Uint8Array.from([192, 0, 2, 1]).buffer
const uidOut = Buffer.alloc(32)
const T0 = 1_764_000_000_000
const MIN = 60_000
const SHOP = 'https://shop.example/'

/** A pixel; its `eid` is its time unless given. */
interface Pixel { uid: string, now: number, url?: string, ref?: string, sid?: string, eid?: string }

/** One batch of pixels from the real encoder. */
function batch (pixels: Pixel[]): Buffer {
  const encoder = new Encoder(encoderOptions(defaults()))
  for (const p of pixels) {
    const query = new URLSearchParams({ uid: p.uid, eid: p.eid ?? String(p.now), url: p.url ?? SHOP, ref: p.ref ?? '', ...(p.sid == null ? {} : { sid: p.sid }) })
    if (encoder.pixel(query.toString(), 'UA', '', '', ip, p.now, uidOut) !== 0) throw new Error(`refused: ${query.toString()}`)
  }
  return encoder.takeBatch()!
}

function sids (sessions: Sessions, pixels: Pixel[]): Array<string | undefined> {
  return decodeBatch(sessions.assign(batch(pixels))).map(e => eventCells(e).sid)
}

/** The reference: XXH3-64 of uid16 ‖ start ts (u64 BE) ‖ eid8 of the starting event, as 16 hex digits. */
function sidOf (uid: string, start: number, eid = String(start)): string {
  const ts = Buffer.alloc(8)
  ts.writeBigUInt64BE(BigInt(start))
  const eid8 = Buffer.alloc(8)
  eid8.writeBigUInt64BE(xxh3.xxh64(Buffer.concat([uid16(uid), Buffer.from(eid)])))
  return xxh3.xxh64(Buffer.concat([uid16(uid), ts, eid8])).toString(16).padStart(16, '0')
}

t.test('the config gives the native options', async t => {
  t.same(options, { timeoutMs: 30 * MIN, maxUsers: 500000, ownHosts: [] })
})

t.test('one user within the timeout keeps one sid, and gets a new one after it', async t => {
  const sessions = new Sessions(options)
  const got = sids(sessions, [
    { uid: 'alice', now: T0 },
    { uid: 'alice', now: T0 + 10 * MIN, url: 'https://shop.example/cart', ref: SHOP },
    { uid: 'alice', now: T0 + 40 * MIN }
  ])
  t.same(got, [sidOf('alice', T0), sidOf('alice', T0), sidOf('alice', T0)])
  t.match(got[0], /^[0-9a-f]{16}$/)
  const after = sids(sessions, [{ uid: 'alice', now: T0 + 70 * MIN + 1 }])
  t.same(after, [sidOf('alice', T0 + 70 * MIN + 1)], 'more than 30 min after the last event')
})

t.test('a campaign URL starts a new session, the same campaign again does not', async t => {
  const sessions = new Sessions(options)
  const ad = 'https://shop.example/?utm_source=news&utm_campaign=spring'
  t.same(sids(sessions, [
    { uid: 'alice', now: T0 },
    { uid: 'alice', now: T0 + 1, url: ad },
    { uid: 'alice', now: T0 + 2, url: ad },
    { uid: 'alice', now: T0 + 3, url: 'https://shop.example/?utm_source=news&utm_campaign=summer' }
  ]), [sidOf('alice', T0), sidOf('alice', T0 + 1), sidOf('alice', T0 + 1), sidOf('alice', T0 + 3)])
})

t.test('two users get different sids', async t => {
  const sessions = new Sessions(options)
  const got = sids(sessions, [{ uid: 'alice', now: T0 }, { uid: 'bob', now: T0 }, { uid: 'alice', now: T0 + 1 }])
  t.same(got, [sidOf('alice', T0), sidOf('bob', T0), sidOf('alice', T0)])
  t.not(got[0], got[1])
  t.equal(sessions.users, 2)
})

t.test('a given sid is kept; every other byte of the batch is the encoder\'s', async t => {
  const sessions = new Sessions(options)
  const drained = batch([{ uid: 'alice', now: T0, sid: 'app-1' }, { uid: 'bob', now: T0, ref: 'https://r.example/' }])
  const copy = Buffer.from(drained)
  const assigned = sessions.assign(drained)
  const before = decodeBatch(drained)
  const after = decodeBatch(assigned)
  t.equal(assigned.readUInt32BE(4), 2, 'the count is kept')
  t.same(after[0], before[0])
  t.equal(eventCells(after[0]).sid, 'app-1')
  t.same({ ...after[1], fields: after[1].fields.filter(([q]) => q !== 2), size: 0 }, { ...before[1], size: 0 })
  t.equal(after[1].size, before[1].size + 19)
  t.equal(sessions.users, 1, 'the given sid left the state alone')
  t.same(drained, copy, 'the input is not changed')
})

t.test('bad batches and options throw', async t => {
  const sessions = new Sessions(options)
  t.throws(() => sessions.assign(Buffer.from('SPB2\0\0\0\0')), { message: 'batch is not format v1: bad header' })
  t.throws(() => new Sessions({ ...options, timeoutMs: 0 }), { message: 'options.timeoutMs must be an integer from 1 to 4294967295' })
  t.throws(() => new Sessions({ ...options, maxUsers: 1.5 }), { message: 'options.maxUsers must be an integer from 1 to 4294967295' })
  t.throws(() => sessions.configure({ ...options, ownHosts: ['https://x.example'] }), { message: 'options.ownHosts must hold host names without scheme, port or path: "https://x.example"' })
})

t.test('two sessions started in one millisecond get two ids, and the same ids when the batch is assigned again', async t => {
  const google = 'https://www.google.com/'
  const drained = batch([
    { uid: 'alice', now: T0, eid: 'identify' },
    // The same millisecond, from another site: a second session.
    { uid: 'alice', now: T0, url: 'https://shop.example/b', ref: google, eid: 'page' },
    { uid: 'alice', now: T0 + 1, url: 'https://shop.example/c', ref: google }
  ])
  const got = decodeBatch(new Sessions(options).assign(drained)).map(e => eventCells(e).sid)
  t.not(got[0], got[1], 'two session starts, two ids')
  t.same(got, [sidOf('alice', T0, 'identify'), sidOf('alice', T0, 'page'), sidOf('alice', T0, 'page')])
  const again = decodeBatch(new Sessions(options).assign(drained)).map(e => eventCells(e).sid)
  t.same(again, got, 'a fresh state gives the same ids to the same batch')
})

t.test('an event stamped before one that started a session, handed over after it by another thread, joins that session', async t => {
  const sessions = new Sessions(options)
  t.same(sids(sessions, [{ uid: 'alice', now: T0 }]), [sidOf('alice', T0)])
  // Thread B's POST, stamped T0 + 3 and from another site, is committed at once: a new session.
  t.same(sids(sessions, [{ uid: 'alice', now: T0 + 3, ref: 'https://www.google.com/' }]), [sidOf('alice', T0 + 3)])
  // Thread A's pixels, stamped T0 + 1 and T0 + 2, waited in its batch and come after: they join the session of
  // T0 + 3, and neither their campaign nor their referrer splits it.
  t.same(sids(sessions, [
    { uid: 'alice', now: T0 + 1, url: 'https://shop.example/?utm_source=news' },
    { uid: 'alice', now: T0 + 2, ref: 'https://bing.com/' },
    { uid: 'alice', now: T0 + 4 }
  ]), [sidOf('alice', T0 + 3), sidOf('alice', T0 + 3), sidOf('alice', T0 + 3)])
})

t.test('an identify and an external page in one POST are two sessions with two ids in HBase', async t => {
  const hbase = await freshTables('samems')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })
  const body = [
    { uid: 'sam', a: 'identify', lid: 'sam-login', eid: 's1' },
    { uid: 'sam', a: 'page', url: SHOP, ref: 'https://www.google.com/', eid: 's2' }
  ]
  const res = await fetch(`${daemon.url}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  t.equal(res.status, 204)
  await flushed(daemon)
  const rows = await HBaseClient.using({ host: '127.0.0.1', port: THRIFT_PORT }, async c =>
    await scanPrefix(c, hbase.user_table as string, userRowPrefix('sam', SALT_BUCKETS), 10))
  t.equal(rows.length, 2)
  t.equal(new Set(rows.map(r => r.ts)).size, 1, 'both events have one timestamp')
  const sids = rows.map(r => r.cells.sid)
  t.match(sids, [/^[0-9a-f]{16}$/, /^[0-9a-f]{16}$/])
  t.not(sids[0], sids[1], 'each session has its own id')
})
