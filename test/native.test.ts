// The native encoder across the boundary, checked byte for byte against the reference in test/reference.

import { join } from 'node:path'
import t from 'tap'
import { errors } from '../daemon/errors'
import { decodeBatch, eventCells } from './reference/batch'
import { BATCH_FULL, Encoder, encodeError, NEW_UID, PutRequests, putRequests, userRowPrefix, type EncoderOptions } from '../daemon/native'
import { joinBatches } from '../daemon/pipeline/flush-worker'
import { encodeBatch, parseQuery, pixelEvent, Q, uid16, type RefEvent } from './reference/encoder'

const options: EncoderOptions = {
  saltBuckets: 16,
  maxQueryBytes: 4096,
  maxFields: 32,
  maxValueBytes: 2048,
  maxDataBytes: 8192,
  maxEventsPerPost: 500,
  maxJsonDepth: 16,
  batchMaxBytes: 256 * 1024,
  anonymizeIp: true,
  cookieName: 'sp_uid'
}
const ref = { saltBuckets: 16, maxValueBytes: 2048, anonymizeIp: true }
const v4 = (a: number, b: number, c: number, d: number): ArrayBuffer => Uint8Array.from([a, b, c, d]).buffer
const v6 = (hex: string): ArrayBuffer => Uint8Array.from(Buffer.from(hex, 'hex')).buffer
const uidOut = Buffer.alloc(32)
const NOW = 1_764_000_000_123

t.test('pixel events match the reference byte for byte', async t => {
  const cases: Array<[string, string, string, ArrayBuffer]> = [
    ['uid=alice&eid=e1&a=view&it=q42&ch=db&url=https%3A%2F%2Fa.example%2Fq%2F42&ref=https%3A%2F%2Fsearch.example%2F&p=web&sid=s1&ct=1764000000000', 'Mozilla/5.0', 'https://a.example/q/42', v4(203, 0, 113, 77)],
    ['uid=0123456789ABCDEF0123456789abcdef&eid=x', 'UA', '', v4(10, 1, 2, 3)],
    ['uid=b%C3%B6b+smith&eid=%E2%9C%93&d=%7B%22k%22%3A1%7D&_=123', '', 'https://ref.example/page', v6('20010db8000100020003000400050006')],
    ['uid=carol&eid=1&a=&it=', 'agent', 'https://r.example/', v6('00000000000000000000ffffc0000201')],
    ['eid=2&uid=dave&uid=erin&a=first&a=second', 'ü'.repeat(1500), '', new ArrayBuffer(7)],
    ['uid=frank&eid=3&vid=v1&sto=s1&eti=e1&fp=9f3a&lid=frank%40example&lnk=v0', 'Mozilla/5.0 (X11)', '', v4(198, 51, 100, 7)],
    ['uid=grace&eid=4&fp=9f3a', 'Mozilla/5.0 (X11)', '', new ArrayBuffer(0)]
  ]
  const encoder = new Encoder(options)
  const expected: RefEvent[] = []
  for (const [query, ua, referer, ip] of cases) {
    const r = encoder.pixel(query, ua, referer, '', ip, NOW, uidOut)
    t.equal(r, 0, query)
    expected.push(pixelEvent(query, ua, referer, Buffer.from(ip), NOW, ref))
  }
  t.equal(encoder.pending, cases.length)
  const batch = encoder.takeBatch()
  t.ok(batch)
  t.same(batch, encodeBatch(expected, ref))
  t.equal(encoder.takeBatch(), null, 'an encoder whose batch was taken is empty')
  t.equal(encoder.pending, 0)
})

t.test('decoded fields and keys', async t => {
  const encoder = new Encoder(options)
  encoder.pixel('uid=alice&eid=e1&a=view&d=%7B%7D', 'UA', 'https://a.example/', '', v4(198, 51, 100, 9), NOW, uidOut)
  const [event] = decodeBatch(encoder.takeBatch()!)
  t.equal(event.ts, NOW)
  const cells = eventCells(event)
  t.match(cells, { uid: 'alice', a: 'view', d: '{}', url: 'https://a.example/', ua: 'UA', ip: '198.51.100.0' })
  t.match(cells.id, /^[0-9a-f]{16}$/)
  t.equal(event.userKey.length, 33)
  t.equal(event.timeKey.length, 33)
  t.same(event.userKey.subarray(0, 17), userRowPrefix('alice', 16))
  t.same(event.userKey.subarray(1, 17), uid16('alice'))
  t.same(event.timeKey.subarray(9, 25), uid16('alice'))
  t.equal(event.userKey.readBigUInt64BE(17), 0x7fffffffffffffffn - BigInt(NOW))
  t.same(event.userKey.subarray(25), Buffer.from(cells.id!, 'hex'))
})

t.test('uid comes from the field, then the cookie, then a new one', async t => {
  const encoder = new Encoder(options)
  const hex = 'aaaaaaaabbbbbbbbccccccccdddddddd'
  t.equal(encoder.pixel('a=x', '', '', `other=1; sp_uid=${hex}; x=y`, v4(1, 2, 3, 4), NOW, uidOut), 0)
  t.equal(encoder.pixel('uid=zed', '', '', `sp_uid=${hex}`, v4(1, 2, 3, 4), NOW, uidOut), 0)
  t.equal(encoder.pixel('a=x', '', '', 'sp_uid=not-hex', v4(1, 2, 3, 4), NOW, uidOut), NEW_UID)
  const minted = uidOut.toString('latin1')
  t.match(minted, /^[0-9a-f]{32}$/)
  const events = decodeBatch(encoder.takeBatch()!).map(eventCells)
  t.equal(events[0].uid, hex)
  t.equal(events[1].uid, 'zed')
  t.equal(events[2].uid, minted)
  t.same(userRowPrefix(hex, 16).subarray(1), Buffer.from(hex, 'hex'), 'a hex uid is its bytes')
  t.same(userRowPrefix('zed', 16).subarray(1), uid16('zed'), 'any other is its xxh3-128, as the reference')
})

t.test('events() takes a JSON array and matches the reference', async t => {
  const encoder = new Encoder(options)
  const body = Buffer.from(JSON.stringify([
    { uid: 'alice', eid: 'a1', a: 'like', it: 'q1', ch: 'db', d: { n: 1, tags: ['x'] }, ct: 1764000000001 },
    { uid: 'alice', eid: 'a2', a: 'view', d: 'plain', ct: '1764000000002', unknown: true }
  ]))
  t.equal(encoder.events(body, 'UA', 'https://a.example/p', '', v4(192, 0, 2, 1), NOW, uidOut), 0)
  const expected: RefEvent[] = [
    { ts: NOW, uid: 'alice', eid: 'a1', fields: { uid: 'alice', a: 'like', it: 'q1', ch: 'db', d: '{"n":1,"tags":["x"]}', ct: '1764000000001', url: 'https://a.example/p', ua: 'UA', ip: '192.0.2.0' } },
    { ts: NOW, uid: 'alice', eid: 'a2', fields: { uid: 'alice', a: 'view', d: 'plain', ct: '1764000000002', url: 'https://a.example/p', ua: 'UA', ip: '192.0.2.0' } }
  ]
  t.same(encoder.takeBatch(), encodeBatch(expected, ref))
})

t.test('events without a uid share one new uid', async t => {
  const encoder = new Encoder(options)
  const r = encoder.events(Buffer.from('[{"a":"x"},{"a":"y"}]'), '', '', '', v4(1, 1, 1, 1), NOW, uidOut)
  t.equal(r, NEW_UID)
  const events = decodeBatch(encoder.takeBatch()!).map(eventCells)
  t.equal(events[0].uid, uidOut.toString('latin1'))
  t.equal(events[1].uid, events[0].uid)
  t.not(events[0].id, events[1].id)
})

t.test('bad input returns its error code and appends nothing', async t => {
  const small = { ...options, maxQueryBytes: 64, maxFields: 4, maxValueBytes: 16, maxDataBytes: 32, maxEventsPerPost: 2, maxJsonDepth: 3 }
  const encoder = new Encoder(small)
  const pixels: Array<[string, number]> = [
    ['a=' + 'x'.repeat(80), -1],
    ['a=1&b=2&c=3&d=4&e=5', -2],
    ['a=%zz', -3],
    ['a=%4', -3],
    ['a=%', -3],
    ['%g1=x', -3],
    ['a=%ff%fe', -4],
    ['a=%C3', -4],
    ['it=' + 'x'.repeat(17), -5],
    ['d=' + 'x'.repeat(33), -5],
    ['ct=12a', -9],
    ['ct=' + '1'.repeat(17), -9]
  ]
  for (const [query, code] of pixels) t.equal(encoder.pixel(query, '', '', '', v4(1, 2, 3, 4), NOW, uidOut), code, query)
  const bodies: Array<[string, number]> = [
    ['not json', -6],
    ['{"a":"x"}', -6],
    ['[1,2]', -6],
    ['[{"a":5}]', -6],
    ['[{"d":[[[1]]]}]', -7],
    ['[[[[[[]]]]]]', -7],
    ['[{"a":"x"},{"a":"y"},{"a":"z"}]', -8],
    ['[{"a":"x","b":1,"c":2,"d":3,"e":4}]', -2],
    ['[{"a":"x"},{"ct":-1}]', -9],
    ['[{"uid":""}]', -9],
    ['[{"a":"x"},{"it":"' + 'y'.repeat(17) + '"}]', -5]
  ]
  for (const [body, code] of bodies) t.equal(encoder.events(Buffer.from(body), '', '', '', v4(1, 2, 3, 4), NOW, uidOut), code, body)
  t.equal(encoder.events(Buffer.from([0x5b, 0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d, 0x5d]), '', '', '', v4(1, 2, 3, 4), NOW, uidOut), -6, 'invalid UTF-8 in JSON')
  t.equal(encoder.pending, 0)
  t.equal(encoder.takeBatch(), null)
  const roomy = new Encoder(options)
  t.equal(roomy.pixel('eid=' + 'x'.repeat(65), '', '', '', v4(1, 2, 3, 4), NOW, uidOut), -5, 'eid over 64 bytes')
  t.equal(roomy.pending, 0)
})

t.test('every refusal of the encoder has its error in the catalogue, answered to the client', async t => {
  // The generated enum's runtime object: its values are the encoder's negative results.
  const generated = require(join(__dirname, '..', '..', 'native')).EncodeError as Record<string, number>
  const codes = Object.values(generated)
  t.same(codes, [-1, -2, -3, -4, -5, -6, -7, -8, -9])
  const defs = codes.map(encodeError)
  for (const [i, def] of defs.entries()) t.ok(Object.values(errors).includes(def) && def.status >= 400, `${Object.keys(generated)[i]}: ${def?.code}`)
  t.equal(new Set(defs).size, codes.length, 'one error each')
  t.equal(encodeError(generated.QueryTooLong), errors.QUERY_TOO_LONG)
  t.equal(encodeError(generated.BadField), errors.BAD_FIELD)
})

t.test('the batch-full flag', async t => {
  const encoder = new Encoder({ ...options, batchMaxBytes: 4096 })
  let flags = 0
  let n = 0
  while ((flags & BATCH_FULL) === 0 && n < 1000) {
    flags = encoder.pixel(`uid=u&eid=${n++}&d=${'x'.repeat(200)}`, '', '', '', v4(1, 2, 3, 4), NOW, uidOut)
  }
  t.ok(n > 1 && n < 1000, `full after ${n} events`)
  t.ok(encoder.takeBatch()!.length >= 4096)
})

t.test('options out of range are refused', async t => {
  t.throws(() => new Encoder({ ...options, saltBuckets: 0 }))
  t.throws(() => new Encoder({ ...options, saltBuckets: 257 }))
})

t.test('the reference query parser agrees on repeated keys and empty segments', async t => {
  t.same([...parseQuery('a=1&&a=2&b')], [['a', '2'], ['b', '']])
  t.equal(Q.ct, 15)
})

t.test('batches joined for one flush hold every record of each, and a bad one is given back alone', async t => {
  const encoder = new Encoder(options)
  const take = (n: number, from: number): Buffer => {
    for (let i = 0; i < n; i++) encoder.pixel(`uid=u${from + i}&eid=e${from + i}&a=view`, 'UA', '', '', v4(203, 0, 113, 9), NOW + from + i, uidOut)
    return encoder.takeBatch() as Buffer
  }
  const batches = [take(2, 0), take(3, 10), take(1, 20)]
  const joined = joinBatches(batches)
  const events = decodeBatch(joined)
  t.equal(events.length, 6)
  t.same(events.map(e => e.ts - NOW), [0, 1, 10, 11, 12, 20], 'the records of each batch, in order')
  t.same(joined.subarray(8), Buffer.concat(batches.map(b => b.subarray(8))))
  const requests = putRequests(joined, 4096, 16, false, [])
  t.ok(requests instanceof PutRequests && requests.events === 6, 'the flush takes the joined batch')
  t.same(joinBatches([batches[1]]), batches[1], 'one batch is itself')
  const bad = Buffer.from('SPB2\0\0\0\0')
  t.same(joinBatches([batches[0], bad, batches[2]]), bad, 'a batch without the header alone')
  const lying = Buffer.from(batches[1])
  lying.writeUInt32BE(2, 4)
  const mixed = putRequests(joinBatches([batches[0], lying]), 4096, 16, false, [])
  t.notOk(mixed instanceof PutRequests, 'a count that does not match its records makes the joined batch refused')
})
